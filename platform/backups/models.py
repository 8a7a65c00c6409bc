"""The catalogue of backups and of restore drills, in the public schema.

The backup storage is the source of truth (a restore needs only it and the key);
these rows serve retention, metrics and pages.
"""

from django.db import models


class Backup(models.Model):
    """One backup set of one workspace: ``workspaces/<schema>/sets/<backup_id>/``."""

    class Status(models.TextChoices):
        OK = "ok", "ok"
        FAILED = "failed", "failed"

    backup_id = models.CharField(max_length=40, unique=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="backups")
    schema_name = models.CharField(max_length=63)
    status = models.CharField(max_length=8, choices=Status.choices)
    reason = models.CharField(max_length=16, default="manual")  # manual | schedule
    created_at = models.DateTimeField()
    seconds = models.FloatField(default=0)
    dump_bytes = models.BigIntegerField(default=0)
    rows = models.BigIntegerField(default=0)
    object_count = models.IntegerField(default=0)
    object_bytes = models.BigIntegerField(default=0)
    objects_copied = models.IntegerField(default=0)
    audit_events = models.IntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.schema_name}/{self.backup_id}"


class RestoreDrill(models.Model):
    """One run of the restore drill: restore a backup aside, verify, discard."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    backup_id = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"drill {self.finished_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'FAILED'}"
