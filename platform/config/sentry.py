"""Error reporting with sentry-sdk, scrubbed so that secrets never leave the process."""

import os
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.scrubber import DEFAULT_DENYLIST

# Our own names for secrets, on top of sentry-sdk's defaults (password, token, ...).
ATRIUM_DENYLIST = [
    "owner_password", "new_password1", "new_password2", "old_password", "password_hash",
    "atrium_session", "atrium_csrf", "csrfmiddlewaretoken", "otp_token", "recovery_code",
    "client_secret", "access_token", "refresh_token", "signature", "stripe_signature",
    "webhook_secret", "secret_key", "hmac_key",
    # Emailed links (invitation, reset, email change) carry one-time tokens, and email
    # and template contexts hold them; Sentry scrubs variables by name, not nested keys.
    "link", "context",
]  # fmt: skip


def init_sentry(
    *,
    dsn: str,
    environment: str,
    traces_sample_rate: float,
    release: str | None = None,
    **extra: Any,
) -> None:
    """Report errors to Sentry, scrubbed. ``release`` defaults to ``SENTRY_RELEASE``
    (e.g. the image's git sha). Every event is tagged with ``request_id`` and
    ``workspace`` (the schema name, or "public") by ``config.middleware`` for
    requests and ``config.task_hooks`` for tasks."""
    secrets = {"mode": "denylist", "terms": DEFAULT_DENYLIST + ATRIUM_DENYLIST}
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or os.environ.get("SENTRY_RELEASE") or None,
        traces_sample_rate=traces_sample_rate,
        data_collection={
            "user_info": False,  # no emails or ip addresses
            "http_bodies": [],  # bodies hold passwords and documents
            "cookies": {"mode": "off"},
            "http_headers": {"request": secrets},
            "url_query_params": secrets,
            "stack_frame_variables": secrets,
            "database_query_data": False,
            "queues": False,  # task arguments: emails' links carry one-time tokens
        },
        integrations=[DjangoIntegration(), CeleryIntegration()],
        **extra,
    )
    # The per-request and per-task lines (ERROR on a 5xx or a failed task) would repeat,
    # as events of their own, the exception Sentry already has.
    ignore_logger("atrium.request")
    ignore_logger("atrium.task")
