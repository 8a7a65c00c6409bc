"""The workspace's plan (``Tenant.plan``): what ``billing.selectors.plan_for`` and every
limit read. Billing decides it (subscription, comp, trial) and sets it only here."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.principal import Principal, is_platform, write_service

from .models import Tenant


@write_service
def tenant_plan_set(*, actor: Principal, tenant_id: int, plan_id: int, note: str = "") -> Tenant:
    """Put the workspace on the plan ``plan_id`` (a ``billing.Plan``'s id); a no-op when
    it is on it already. Only the system or the vendor (billing acts as the system, the
    owner's name in ``note``). Audited (``tenant.plan_changed``) in the platform's and
    the workspace's chain, in the same transaction."""
    if not is_platform(actor):
        raise PermissionDenied(_("Only the vendor or the system can change a workspace's plan."))
    plans = Tenant._meta.get_field("plan").related_model.objects
    with transaction.atomic():
        tenant = (
            Tenant.objects.select_for_update(of=("self",)).select_related("plan").get(pk=tenant_id)
        )
        if tenant.plan_id == plan_id:
            return tenant
        plan = plans.filter(pk=plan_id).first()
        if plan is None:
            raise ValidationError({"plan": [_("Unknown plan.")]})
        before = tenant.plan.code if tenant.plan is not None else ""
        tenant.plan = plan
        tenant.save(update_fields=["plan", "updated_at"])
        audit.record_in_both(
            "tenant.plan_changed",
            actor=actor,
            tenant=tenant,
            target=tenant,
            changes={
                "plan_before": before,
                "plan_after": plan.code,
                **({"note": note} if note else {}),
            },
        )
    return tenant
