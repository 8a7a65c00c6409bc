"""The Celery application: configured from Django settings (``CELERY_*``)."""

import logging
import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

log = logging.getLogger(__name__)

app = Celery("atrium")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class RecoverOnConnect(bootsteps.StartStopStep):
    """Each time the worker's consumer (re)connects to the broker, queue the scans
    that may have been lost while it was away (a Redis restart drops its queues; an
    upload made while the broker was down could not publish its scan)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, c) -> None:
        try:
            c.app.send_task("uploads.tasks.watch_scans", kwargs={"everything": True})
        except Exception:  # the next connection, or the periodic watch, does it
            log.exception("could not queue the recovery of waiting scans")


app.steps["consumer"].add(RecoverOnConnect)
