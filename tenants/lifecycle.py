"""Tenant state machine: provisioning → active → suspended → scheduled_for_deletion → deleted."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

import audit.services as audit

from . import routing
from .models import Tenant

S = Tenant.State
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.PROVISIONING: {S.ACTIVE},
    S.ACTIVE: {S.SUSPENDED, S.SCHEDULED_FOR_DELETION},
    S.SUSPENDED: {S.ACTIVE, S.SCHEDULED_FOR_DELETION},
    S.SCHEDULED_FOR_DELETION: {S.ACTIVE, S.DELETED},
    S.DELETED: set(),
}


ACTION_NAMES = {
    S.ACTIVE: "activated",
    S.SUSPENDED: "suspended",
    S.SCHEDULED_FOR_DELETION: "deletion_scheduled",
    S.DELETED: "deleted",
}


def transition(tenant: Tenant, to: str) -> Tenant:
    """Move ``tenant`` to state ``to`` if the state machine allows it."""
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
            target=locked,
            tenant=locked,
            changes={"state": {"before": before, "after": to}},
        )
        transaction.on_commit(lambda: routing.forget_tenant(locked))
    tenant.state = locked.state
    return locked


def suspend_tenant(tenant: Tenant) -> Tenant:
    return transition(tenant, S.SUSPENDED)


def reactivate_tenant(tenant: Tenant) -> Tenant:
    return transition(tenant, S.ACTIVE)
