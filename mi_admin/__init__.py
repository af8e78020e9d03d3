"""MI Admin project package: settings, URLs, the Celery app and the cross-cutting apps."""

from mi_admin.celery import app as celery_app

__all__ = ["celery_app"]
