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
        _register_billing_usage()


def _register_billing_usage() -> None:
    """What a plan downgrade must fit (billing sits below accounts and uploads, so the
    readers are handed to it from here, the top layer)."""
    import accounts.selectors
    import billing.services
    import uploads.selectors

    billing.services.register_usage(
        "seats", lambda: accounts.selectors.seat_usage().used, "max_staff"
    )
    billing.services.register_usage(
        "storage", uploads.selectors.storage_used_bytes, "storage_quota_bytes"
    )
    billing.services.register_owner_recipients(accounts.selectors.owner_recipients)
