"""AuditEvent lives in the public schema so that it outlives the tenants and users it names.

No foreign keys: actor, target and tenant are ids plus display strings kept as
they were at the time.
"""

from django.db import models


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(db_index=True)
    # "" is the platform's own chain; otherwise the tenant's schema name.
    chain = models.CharField(max_length=63, db_index=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_display = models.CharField(max_length=255, blank=True)
    impersonator_id = models.CharField(max_length=64, blank=True)
    impersonator_display = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_display = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["chain", "id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_display} {self.action}"
