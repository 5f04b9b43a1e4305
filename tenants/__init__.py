"""Municipalities (自治体), their domains, provisioning and the operator admin."""
