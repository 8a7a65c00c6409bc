"""The audit log's tables. They live in the public schema so that the log outlives
the tenants and users it names.

No foreign keys anywhere: actor, target and tenant are ids plus display strings
kept as they were at the time. A database trigger (migration 0002) rejects
UPDATE, DELETE and TRUNCATE on all three tables; only ``audit_retention`` may
delete events and links, and it leaves a signed checkpoint behind.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from . import registry


class AuditEvent(models.Model):
    """One thing that happened. Written once by ``audit.services.record``, never changed."""

    class ActorType(models.TextChoices):
        USER = "user", _("Workspace user")
        VENDOR = "vendor", _("Vendor staff")
        API = "api", _("API client")
        SYSTEM = "system", _("System task")
        ANONYMOUS = "anonymous", _("Anonymous visitor")

    occurred_at = models.DateTimeField()
    # "" is the platform's own chain; otherwise the tenant's schema name.
    chain = models.CharField(max_length=63)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_display = models.CharField(max_length=255, blank=True)
    impersonator_id = models.CharField(max_length=64, blank=True)
    impersonator_display = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_display = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    # sha256 of the fields above, set by the database on INSERT (audit.hashing.content_digest_sql).
    content_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["chain", "id"], name="audit_event_chain_id"),
            models.Index(fields=["chain", "occurred_at"], name="audit_event_chain_time"),
            # Only "my activity" looks events up by user; partial indexes skip every
            # other event (system, visitors, documents...), which keeps INSERTs cheap.
            models.Index(
                fields=["chain", "actor_id"],
                name="audit_event_user_actor",
                condition=models.Q(actor_type="user"),
            ),
            models.Index(
                fields=["chain", "target_id"],
                name="audit_event_user_target",
                condition=models.Q(target_type="accounts.user"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_display} {self.action}"

    @property
    def actor_name(self) -> str:
        return self.actor_display or str(self.get_actor_type_display())

    @property
    def sentence(self) -> str:
        """The event as a sentence in the active language (``audit.registry``)."""
        return registry.sentence_for(
            action=self.action,
            actor=self.actor_name,
            target=self.target_display,
            impersonator=self.impersonator_display,
            changes=self.changes,
        )

    def change_rows(self) -> list[dict]:
        """The changes for display, values as people read them (a role's name, yes/no):
        ``{field, label, diff, before, after}`` or ``{field, label, diff, value}``."""
        rows = []
        for name, value in (self.changes or {}).items():
            label = name.replace("_", " ").capitalize()
            pair = registry.pair_of(value)
            if pair is not None:
                before, after = (registry.display_value(self.action, name, v) for v in pair)
                rows.append(
                    {"field": name, "label": label, "diff": True, "before": before, "after": after}
                )
            else:
                shown = registry.display_value(self.action, name, value)
                rows.append({"field": name, "label": label, "diff": False, "value": shown})
        return rows


class AuditChainLink(models.Model):
    """The place of one event in its chain, written by the sealer after the event commits.

    ``hash`` = sha256(prev_hash, seq, chain, event id, event content hash), so
    a changed, removed or re-ordered event breaks every later link.
    """

    event_id = models.BigIntegerField(primary_key=True)
    chain = models.CharField(max_length=63)
    seq = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_link_chain_seq"),
        ]
        indexes = [models.Index(fields=["chain", "event_id"], name="audit_link_chain_event")]

    def __str__(self) -> str:
        return f"{self.chain or 'platform'}#{self.seq}"


class AuditCheckpoint(models.Model):
    """An HMAC-signed statement "chain X had hash H at seq N".

    Periodic checkpoints pin the chain so that it cannot be rewritten or cut
    short without the key; a retention checkpoint is where the chain restarts
    after ``audit_retention`` removed the events up to ``seq``.
    """

    class Kind(models.TextChoices):
        PERIODIC = "periodic", _("Periodic")
        RETENTION = "retention", _("Retention")

    chain = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    events_removed = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["chain", "seq", "id"]
        indexes = [models.Index(fields=["chain", "seq"], name="audit_checkpoint_chain_seq")]

    def __str__(self) -> str:
        return f"{self.kind} checkpoint {self.chain or 'platform'}#{self.seq}"


class AuditRetention(models.Model):
    """A per-chain override of ``AUDIT_RETENTION_DAYS`` (changed through ``retention_set``)."""

    chain = models.CharField(max_length=63, unique=True)
    days = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.chain or 'platform'}: {self.days} days"
