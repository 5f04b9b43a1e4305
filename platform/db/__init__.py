"""Daicho's PostgreSQL backend: Django's, with a health check that costs no round trip
(django-tenants' schema-aware wrapper extends it: ``ORIGINAL_BACKEND``)."""
