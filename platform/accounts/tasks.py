"""Background work of the accounts module: the password-reset email, made in the worker.

The other account emails go through the outbox (``core.outbox.send_after_commit``)."""

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import schema_context

from core import outbox
from tenants.selectors import current_tenant, workspace_link

from .models import User


@shared_task(**outbox.TASK_OPTIONS)
def send_password_reset(self, *, schema_name: str, email: str) -> int:
    """Mail a reset link if an active account of the workspace uses ``email``. Queued
    for every request, known address or not, and the token is made here: the request
    does the same work either way, and no token waits in the broker (a retry after a
    temporary mail failure makes a new one)."""
    with schema_context(schema_name):
        user = User.objects.filter(email=email, is_active=True).first()
        if user is None or not user.has_usable_password():
            return 0
        # The token and link that Django's PasswordResetConfirmView checks.
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = workspace_link(current_tenant().slug, "accounts:password_reset_confirm", uid, token)
        return outbox.deliver(
            self,
            to=user.email,
            template="accounts/email/password_reset",
            context={"link": link},
            language=user.language or settings.LANGUAGE_CODE,
        )
