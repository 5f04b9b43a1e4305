"""Background work: the Celery app, the tenant-aware task base, schedules."""

from workers.celery import app

__all__ = ["app"]
