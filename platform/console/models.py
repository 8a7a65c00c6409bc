"""The console's own rows, in the public schema.

``WorkspaceUsage``: one row per workspace, the fleet page's row. It holds the figures
the fleet shows (seats, storage, documents, last activity, owners and admins), so that
searching 10,000 workspaces never visits their schemas, and ``search``, the text the
fleet search matches (name, slug, owner email, domains; lower case, trigram-indexed).
Kept fresh by ``console.usage``: ``search`` in the same transaction as a change of the
workspace's row or domains; the figures marked stale after a change in the workspace
commits and refreshed by a task every minute, with a nightly full refresh as the
safety net.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F
from django.utils import timezone


class WorkspaceUsage(models.Model):
    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    search = models.TextField(default="", blank=True)
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
            GinIndex(fields=["search"], opclasses=["gin_trgm_ops"], name="console_usage_search"),
            # The fleet's sorts, each with the primary key as the tie-breaker.
            models.Index(fields=["seats_used", "tenant"], name="console_usage_seats"),
            models.Index(fields=["storage_bytes", "tenant"], name="console_usage_storage"),
            models.Index(
                F("last_activity_at").desc(nulls_last=True),
                F("tenant").desc(),
                name="console_usage_activity",
            ),
            models.Index(
                fields=["stale_since"],
                name="console_usage_stale",
                condition=models.Q(stale_since__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"usage of tenant {self.tenant_id}"
