"""Support data, all in the PUBLIC schema (``support`` is a shared app only): the console
on the public host and every workspace host read the same rows.

- ``SupportPolicy``: a workspace's consent (off, read-only, read-write; optional end date)
  and whether its owners are emailed when a session starts. One row per workspace; no row
  means the defaults (off, owners emailed).
- ``SupportSession``: one support session, from its start in the console to its end, with
  who, whom, why, the mode, the limits and the single-use hand-off nonce.
"""

import uuid
from datetime import date, datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


class Mode(models.TextChoices):
    OFF = "off", _("No support access")
    READ_ONLY = "read_only", _("Read-only")
    READ_WRITE = "read_write", _("Read and write")


# Consent levels, low to high: a session needs consent at least as high as its mode.
MODE_RANK = {Mode.OFF: 0, Mode.READ_ONLY: 1, Mode.READ_WRITE: 2}


class EndCause(models.TextChoices):
    VENDOR = "vendor", _("ended by the vendor")
    WORKSPACE_ADMIN = "workspace_admin", _("ended by a workspace admin")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("consent withdrawn")
    REVOKED = "revoked", _("revoked in the console")
    EXPIRED = "expired", _("two-hour limit reached")
    IDLE = "idle", _("idle for too long")
    USER_UNAVAILABLE = "user_unavailable", _("the user is no longer available")


class SupportPolicy(models.Model):
    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="support_policy"
    )
    mode = models.CharField(_("support access"), max_length=16, choices=Mode.choices)
    until = models.DateField(_("until"), null=True, blank=True)
    notify_owners = models.BooleanField(_("email the owners when a session starts"), default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.mode}"

    def allows(self, mode: str, today: date) -> bool:
        """Whether this consent covers a session in ``mode`` on ``today`` (UTC)."""
        if self.until is not None and today > self.until:
            return False
        return MODE_RANK.get(self.mode, 0) >= MODE_RANK.get(mode, 99) > 0


class SupportSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="support_sessions"
    )
    # The vendor staff member (a public-schema accounts.User): copied, never a workspace user.
    vendor_id = models.BigIntegerField()
    vendor_email = models.EmailField()
    # The workspace user worked as (an id in the workspace's schema: no foreign key).
    user_id = models.BigIntegerField()
    user_email = models.EmailField()
    reason = models.TextField(_("reason"))
    ticket = models.CharField(_("ticket reference"), max_length=100)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()  # started_at + the overall limit
    last_seen_at = models.DateTimeField()
    # sha256 of the current hand-off token's nonce; the token dies when used or replaced.
    handoff_nonce_hash = models.CharField(max_length=64, blank=True)
    handoff_issued_at = models.DateTimeField(null=True, blank=True)
    handoff_used_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_cause = models.CharField(max_length=32, choices=EndCause.choices, blank=True)
    ended_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "-started_at"], name="support_tenant_started")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mode__in=["read_only", "read_write"]),
                name="support_session_mode_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.vendor_email} as {self.user_email}"

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def ends_at(self, idle_limit) -> datetime:
        """When it ends unless something else ends it first: the overall limit, or the
        idle limit from the last request, whichever comes first."""
        return min(self.expires_at, self.last_seen_at + idle_limit)
