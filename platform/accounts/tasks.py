"""Background work of the accounts module: its emails, sent by the worker."""

import smtplib
from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from tenants.selectors import current_tenant, workspace_link

from .emails import send_now
from .models import User

# Waits between tries: 30 s, doubling, at most 10 minutes (below the Redis broker's
# one-hour visibility timeout, so a waiting retry is never handed to a second worker):
# about 2.5 hours in all, well inside the lifetime of every link we mail.
RETRY_FIRST_S = 30
RETRY_MAX_S = 600
MAX_RETRIES = 20


def is_temporary(exc: BaseException) -> bool:
    """Worth another try: the network, or a 4xx answer of the mail server. A 5xx answer
    (unknown recipient, refused sender, bad credentials) will not change; not retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError)  # includes the other SMTP errors, timeouts, refusals


def _send_or_retry(task, send: Callable[[], int]) -> int:
    try:
        return send()
    except Exception as exc:
        if not is_temporary(exc) or task.request.retries >= MAX_RETRIES:
            raise  # Celery logs it (and Sentry, without the task's arguments)
        countdown = min(RETRY_MAX_S, RETRY_FIRST_S * 2**task.request.retries)
        raise task.retry(exc=exc, countdown=countdown) from exc


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def send_templated_email(self, *, to: str, template: str, context: dict, language: str) -> int:
    return _send_or_retry(
        self, lambda: send_now(to=to, template=template, context=context, language=language)
    )


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=MAX_RETRIES)
def send_password_reset(self, *, schema_name: str, email: str) -> int:
    """Mail a reset link if an active account of the workspace uses ``email``. Queued
    for every request, known address or not, and the token is made here: the request
    does the same work either way, and no token waits in the broker."""
    with schema_context(schema_name):
        user = User.objects.filter(email=email, is_active=True).first()
        if user is None or not user.has_usable_password():
            return 0
        # The token and link that Django's PasswordResetConfirmView checks.
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = workspace_link(current_tenant().slug, "accounts:password_reset_confirm", uid, token)
        return _send_or_retry(
            self,
            lambda: send_now(
                to=user.email,
                template="password_reset",
                context={"link": link},
                language=user.language or settings.LANGUAGE_CODE,
            ),
        )
