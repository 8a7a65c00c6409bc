"""The console's own rows, in the public schema.

``WorkspaceUsage``: one row per workspace with the figures the fleet shows (seats,
storage, documents, last activity, owners and admins), so that searching 10,000
workspaces never visits their schemas. Kept fresh by ``console.usage`` (marked stale
after a change in the workspace commits, refreshed by a task every minute; a nightly
full refresh is the safety net).
"""

from django.db import models
from django.utils import timezone


class WorkspaceUsage(models.Model):
    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    active_staff = models.PositiveIntegerField(default=0)
    pending_invitations = models.PositiveIntegerField(default=0)
    # Seats as the plan counts them: active staff + pending invitations.
    seats_used = models.PositiveIntegerField(default=0)
    storage_bytes = models.BigIntegerField(default=0)
    documents_count = models.PositiveIntegerField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # [{"email", "name", "role"}] of the active owners and admins.
    admins = models.JSONField(default=list, blank=True)
    # Set (once) when something in the workspace changed after the last refresh.
    stale_since = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["seats_used"], name="console_usage_seats"),
            models.Index(fields=["storage_bytes"], name="console_usage_storage"),
            models.Index(fields=["last_activity_at"], name="console_usage_activity"),
            models.Index(
                fields=["stale_since"],
                name="console_usage_stale",
                condition=models.Q(stale_since__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"usage of tenant {self.tenant_id}"
