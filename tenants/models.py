"""Tenant, Domain and the pool of spare schemas, all in the public schema."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """A partner company's workspace. Its row is the single source of its state."""

    class State(models.TextChoices):
        PROVISIONING = "provisioning", _("Provisioning")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        SCHEDULED_FOR_DELETION = "scheduled_for_deletion", _("Scheduled for deletion")
        DELETED = "deleted", _("Deleted")

    name = models.CharField(_("company name"), max_length=100)
    slug = models.SlugField(_("workspace address"), max_length=40, unique=True)
    state = models.CharField(max_length=32, choices=State.choices, default=State.PROVISIONING)
    owner_email = models.EmailField(_("owner email"))
    plan = models.ForeignKey(
        "billing.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="tenants"
    )
    # Why the workspace may be read but not changed (``core.access.REASONS``); empty when
    # it is writable. Changed only by ``tenant_restrict`` / ``tenant_unrestrict``.
    read_only_reasons = ArrayField(
        models.CharField(max_length=32), default=list, blank=True,
        db_default=RawSQL("'{}'::varchar(32)[]", []),
        verbose_name=_("read-only reasons"),
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Schemas are made by tenants.creation inside the signup transaction,
    # never as a side effect of save(), and never dropped by delete().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def is_read_only(self) -> bool:
        return bool(self.read_only_reasons)


class Domain(DomainMixin):
    """A host name that routes to a tenant (``<slug>.<BASE_DOMAIN>``)."""

    def __str__(self) -> str:
        return self.domain


class SpareSchema(models.Model):
    """A pre-migrated, unclaimed schema that a signup renames into a tenant's.

    ``fingerprint`` names the set of migrations applied to it; a spare whose
    fingerprint differs from the code's is stale and never claimed.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    fingerprint = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.schema_name
