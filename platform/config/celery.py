"""The Celery application: configured from Django settings (``CELERY_*``)."""

import logging
import os
import time

from celery import Celery, bootsteps
from celery.signals import setup_logging
from celery.utils.collections import DictAttribute
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

log = logging.getLogger(__name__)

# After a publish failed, this process does not try the broker again for this long.
PUBLISH_RETRY_AFTER = 5.0


class AtriumCelery(Celery):
    """Celery with a circuit breaker on publishing: with the broker down, reaching it
    costs up to ``CELERY_BROKER_CONNECTION_TIMEOUT`` per attempt, and a request that
    publishes (an upload's scan, an audit seal) must not pay that each time. Callers
    already treat ``OperationalError`` as "queued later". Its settings are read from
    Django's once."""

    _broker_down_until = 0.0

    def prepare_config(self, c):
        """Django's ``CELERY_*`` settings as a plain dict, read when Celery loads them.

        Celery looks a setting up under up to four names in each of its sources, several
        settings per publish; on Django's lazy settings object every miss raises and
        catches an ``AttributeError``: a sixth of a publish's CPU (bench/billing.py).
        Django's settings do not change while it runs; ``app.conf.x = ...`` still
        works (it goes into Celery's own map, looked up first)."""
        c = super().prepare_config(c)
        if isinstance(c, DictAttribute):  # config_from_object("django.conf:settings")
            prefix = f"{self.namespace}_" if self.namespace else ""
            source = c.obj
            c = {
                name: getattr(source, name)
                for name in dir(source)
                if name.startswith(prefix) and not name.startswith("_")
            }
        return c

    def send_task(self, *args, **kwargs):
        if time.monotonic() < self._broker_down_until:
            raise OperationalError("broker unreachable a moment ago; not tried again yet")
        try:
            return super().send_task(*args, **kwargs)
        except OperationalError:
            self._broker_down_until = time.monotonic() + PUBLISH_RETRY_AFTER
            raise


app = AtriumCelery("atrium")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect(weak=False)
def _django_logging(**_kwargs) -> None:
    """Worker and beat log as the web does (``LOGGING``: JSON lines on stdout) instead
    of Celery's own format; a receiver here tells Celery not to configure logging."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


class RecoverOnConnect(bootsteps.StartStopStep):
    """Each time the worker's consumer (re)connects to the broker, queue the scans
    that may have been lost while it was away (a Redis restart drops its queues; an
    upload made while the broker was down could not publish its scan)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, c) -> None:
        c.app._broker_down_until = 0.0  # the consumer just connected: the broker is back
        try:
            c.app.send_task("uploads.tasks.watch_scans", kwargs={"everything": True})
        except Exception:  # the next connection, or the periodic watch, does it
            log.exception("could not queue the recovery of waiting scans")


app.steps["consumer"].add(RecoverOnConnect)
