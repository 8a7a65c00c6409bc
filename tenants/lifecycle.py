"""Tenant state machine: provisioning → active → suspended → scheduled_for_deletion → deleted."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.errors import required_reason
from core.principal import Principal, is_platform, write_service

from . import routing
from .models import Domain, Tenant

S = Tenant.State
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.PROVISIONING: {S.ACTIVE},
    S.ACTIVE: {S.SUSPENDED, S.SCHEDULED_FOR_DELETION},
    S.SUSPENDED: {S.ACTIVE, S.SCHEDULED_FOR_DELETION},
    # Restoring within the grace period returns to the state before (offboarding).
    S.SCHEDULED_FOR_DELETION: {S.ACTIVE, S.SUSPENDED, S.DELETED},
    S.DELETED: set(),
}


ACTION_NAMES = {
    S.ACTIVE: "activated",
    S.SUSPENDED: "suspended",
    S.SCHEDULED_FOR_DELETION: "deletion_scheduled",
    S.DELETED: "deleted",
}


def _require_platform(actor: Principal) -> None:
    """Lifecycle changes are the vendor's (console) or the system's, never a workspace's."""
    if not is_platform(actor):
        raise PermissionDenied(_("Only the vendor's staff can change a workspace's state."))


@write_service
def tenant_transition(*, actor: Principal, tenant: Tenant, to: str, reason: str) -> Tenant:
    """Move ``tenant`` to state ``to`` if the state machine allows it; ``reason`` (required)
    is kept in the event, recorded in the tenant's own chain."""
    _require_platform(actor)
    reason = required_reason(reason)
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if to not in ALLOWED_TRANSITIONS[locked.state]:
            raise ValidationError(
                _("A workspace cannot go from %(from)s to %(to)s.")
                % {"from": locked.get_state_display(), "to": S(to).label}
            )
        before = locked.state
        locked.state = to
        locked.save(update_fields=["state", "updated_at"])
        audit.record(
            f"tenant.{ACTION_NAMES[to]}",
            actor=actor,
            target=locked,
            tenant=locked,
            changes={"state": {"before": before, "after": to}, "reason": reason},
        )
        transaction.on_commit(lambda: routing.forget_tenant(locked))
    tenant.state = locked.state
    return locked


@write_service
def tenant_suspend(*, actor: Principal, tenant: Tenant, reason: str) -> Tenant:
    return tenant_transition(actor=actor, tenant=tenant, to=S.SUSPENDED, reason=reason)


@write_service
def tenant_reactivate(*, actor: Principal, tenant: Tenant, reason: str) -> Tenant:
    return tenant_transition(actor=actor, tenant=tenant, to=S.ACTIVE, reason=reason)


@write_service
def tenant_address_release(*, actor: Principal, tenant: Tenant, slug: str, reason: str) -> str:
    """Give up a deleted workspace's address: its domains are removed and its slug becomes
    ``slug`` (one that no signup can take). The row, its schema name and with them its
    audit chain stay, so a new workspace at the old address starts a chain of its own.
    Recorded as ``tenant.address_released`` in the workspace's chain; returns the old
    slug. Only a deleted workspace's address is released."""
    _require_platform(actor)
    reason = required_reason(reason)
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if locked.state != S.DELETED:
            raise ValidationError(_("Only a deleted workspace's address can be released."))
        domains = Domain.objects.filter(tenant_id=locked.pk)
        hosts = list(domains.values_list("domain", flat=True))
        domains.delete()
        before = locked.slug
        locked.slug = slug
        locked.save(update_fields=["slug", "updated_at"])
        audit.record(
            "tenant.address_released",
            actor=actor,
            target=locked,
            tenant=locked,
            changes={"slug": {"before": before, "after": slug}, "domains": hosts,
                     "reason": reason},
        )  # fmt: skip
        transaction.on_commit(lambda: [routing.forget_host(host) for host in hosts])
    tenant.slug = locked.slug
    return before
