"""The Celery application: configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("atrium")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect(weak=False)
def _django_logging(**_kwargs) -> None:
    """Worker and beat log as the web does (``LOGGING``: JSON lines on stdout) instead
    of Celery's own format; a receiver here tells Celery not to configure logging."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
