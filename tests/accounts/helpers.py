"""Helpers for account tests: audit events written since a mark, users, codes, links."""

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from audit.testing import high_water
from tests.conftest import PASSWORD

audit_mark = high_water  # the mark actions_since and events_since count from


def actions_since(tenant, mark: int) -> list[str]:
    """Actions recorded in ``tenant``'s chain after ``mark``, oldest first."""
    return list(
        AuditEvent.objects.filter(chain=tenant.schema_name, id__gt=mark)
        .order_by("id")
        .values_list("action", flat=True)
    )


def events_since(tenant, mark: int, action: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(chain=tenant.schema_name, id__gt=mark, action=action).order_by(
            "id"
        )
    )


def make_user(tenant, email: str, role: str = "member", password: str = PASSWORD, **extra):
    """A user created directly (test setup, not the behaviour under test)."""
    with schema_context(tenant.schema_name):
        return get_user_model().objects.create_user(
            email=email, password=password, role=role, full_name=extra.pop("full_name", email),
            **extra,
        )  # fmt: skip


def link_path(message, prefix: str) -> str:
    """The path of the first link in an email that starts with ``prefix``."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"[^\s]*)", message.body)
    assert match, message.body
    return match.group(1)


def last_mail_to(address: str):
    sent = [m for m in mail.outbox if address in m.to]
    assert sent, f"no mail to {address}"
    return sent[-1]


def current_totp(tenant, user, drift: int = 0) -> str:
    """The authenticator's code; ``drift=1`` is the next period's, which the device still
    accepts when the current code was already used (codes cannot be replayed)."""
    with schema_context(tenant.schema_name):
        device = TOTPDevice.objects.get(user_id=user.pk)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift)
    return f"{code:06d}"
