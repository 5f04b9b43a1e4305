"""Tenancy building blocks: the host → city middleware and the fail-closed guard."""
