"""Workspace read-only mode: set and lift a reason (``core.access`` explains them)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.access import REASONS
from core.principal import Principal, is_platform, write_service

from . import routing
from .models import Tenant


def _change(*, actor: Principal, tenant_id: int, reason: str, note: str, restrict: bool) -> Tenant:
    # The vendor (console), billing's tasks and webhooks (the system) restrict a
    # workspace; never the workspace itself.
    if not is_platform(actor):
        raise PermissionDenied(_("Only the vendor or the system can change a workspace's access."))
    if reason not in REASONS:
        raise ValidationError({"reason": [_("Unknown read-only reason: %s") % reason]})
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
        before = list(tenant.read_only_reasons)
        if restrict == (reason in before):
            return tenant  # already so: nothing to record
        after = [*before, reason] if restrict else [r for r in before if r != reason]
        tenant.read_only_reasons = after
        tenant.save(update_fields=["read_only_reasons", "updated_at"])
        audit.record_in_both(
            "tenant.access_restricted" if restrict else "tenant.access_restored",
            actor=actor,
            tenant=tenant,
            target=tenant,
            changes={
                "reason": reason,
                "read_only_reasons": {"before": before, "after": after},
                **({"note": note} if note else {}),
            },
        )
        transaction.on_commit(lambda: routing.forget_tenant(tenant))
    return tenant


@write_service
def tenant_restrict(*, actor: Principal, tenant_id: int, reason: str, note: str = "") -> Tenant:
    """Make the workspace read-only for ``reason`` (one of ``core.access.REASONS``);
    a no-op when that reason already holds. Audited in the workspace's chain (and the
    platform's, from the public site); routes forgotten at commit."""
    return _change(actor=actor, tenant_id=tenant_id, reason=reason, note=note, restrict=True)


@write_service
def tenant_unrestrict(*, actor: Principal, tenant_id: int, reason: str, note: str = "") -> Tenant:
    """Lift ``reason``; the workspace is writable again when no other reason holds."""
    return _change(actor=actor, tenant_id=tenant_id, reason=reason, note=note, restrict=False)
