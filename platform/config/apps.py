from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the per-task log line, Sentry tags and outcome count (``config.task_hooks``).

    Listed after ``core`` so that its Celery hooks run after the request context is bound.
    """

    name = "config"
    label = "atrium_ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import task_hooks

        task_hooks.connect()
