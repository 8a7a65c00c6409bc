"""The console's own rows, in the public schema.

``WorkspaceUsage``: one row per workspace, the fleet page's row. It holds the figures
the fleet shows (seats, storage, documents, last activity, owners and admins), so that
searching 10,000 workspaces never visits their schemas, and ``search``, the text the
fleet search matches (name, slug, owner email, domains; lower case, trigram-indexed),
and copies of what the fleet filters and sorts on (name, state, read-only, plan), so
that every filter and sort is served by an index of this one table. Kept fresh by
``console.usage``: ``search`` and the copies in the same transaction as a change of the
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
    # Copies of the tenant's columns the fleet filters and sorts on (console.usage keeps
    # them equal to the tenant's, in the tenant's transaction); the page shows the
    # tenant's own.
    # (Database defaults: the code of the release before, which inserts rows without
    # these columns, runs on after the migration.)
    name = models.CharField(max_length=100, default="", db_default="", blank=True)
    state = models.CharField(max_length=32, default="", db_default="", blank=True)
    read_only = models.BooleanField(default=False, db_default=False)
    plan = models.ForeignKey(
        "billing.Plan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # console_usage_plan serves it
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
            GinIndex(fields=["search"], opclasses=["gin_trgm_ops"], name="console_usage_search"),
            # The fleet's sorts, each with the primary key as the tie-breaker.
            models.Index(fields=["name", "tenant"], name="console_usage_name"),
            models.Index(fields=["seats_used", "tenant"], name="console_usage_seats"),
            models.Index(fields=["storage_bytes", "tenant"], name="console_usage_storage"),
            models.Index(
                F("last_activity_at").desc(nulls_last=True),
                F("tenant").desc(),
                name="console_usage_activity",
            ),
            # The fleet's filters, in the default order (newest first).
            models.Index(fields=["state", "tenant"], name="console_usage_state"),
            models.Index(fields=["plan", "tenant"], name="console_usage_plan"),
            models.Index(
                fields=["tenant"],
                name="console_usage_read_only",
                condition=models.Q(read_only=True),
            ),
            models.Index(
                fields=["stale_since"],
                name="console_usage_stale",
                condition=models.Q(stale_since__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"usage of tenant {self.tenant_id}"
