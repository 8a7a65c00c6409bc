"""Exports and deletion schedules: rows of the public schema (they outlive the workspace)."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Export(models.Model):
    """One complete archive of a workspace (``README.md``: the format), built by a task.

    ``pending`` → ``running`` → ``done`` | ``failed``; ``purged`` once the workspace's
    stored objects were removed (the row stays as the record of what was handed out).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Being written")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        PURGED = "purged", _("Removed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    schema_name = models.CharField(max_length=63)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=500)
    requested_by = models.CharField(max_length=255)
    storage_key = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    documents = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="offb_export_tenant")]

    def __str__(self) -> str:
        return f"export {self.id} of {self.schema_name}"


class Deletion(models.Model):
    """A workspace scheduled for deletion: restorable until ``purge_after``, then purged.

    ``steps_done`` makes the purge resumable: each finished step is recorded as it
    completes, and a run after a crash skips them.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    schema_name = models.CharField(max_length=63)
    slug = models.CharField(max_length=40)
    reason = models.CharField(_("reason"), max_length=500)
    requested_by = models.CharField(max_length=255)
    previous_state = models.CharField(max_length=32)
    scheduled_at = models.DateTimeField(auto_now_add=True)
    purge_after = models.DateTimeField()
    restored_at = models.DateTimeField(null=True, blank=True)
    restore_reason = models.CharField(max_length=500, blank=True)
    purge_started_at = models.DateTimeField(null=True, blank=True)
    steps_done = models.JSONField(default=list)
    objects_deleted = models.BigIntegerField(default=0)
    purged_at = models.DateTimeField(null=True, blank=True)
    slug_release_after = models.DateTimeField(null=True, blank=True)
    slug_released_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-scheduled_at"]
        constraints = [
            # At most one open schedule per workspace (neither restored nor purged).
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(restored_at__isnull=True, purged_at__isnull=True),
                name="offb_one_open_deletion",
            )
        ]

    def __str__(self) -> str:
        return f"deletion of {self.slug}"

    @property
    def is_open(self) -> bool:
        return self.restored_at is None and self.purged_at is None
