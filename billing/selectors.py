"""Read functions for plans."""

from .models import Plan


def default_plan() -> Plan:
    """The plan a new workspace starts on."""
    return Plan.objects.get(is_default=True)


def plan_for(tenant) -> Plan:
    """The tenant's plan as the database has it now (the default plan when it has none).

    Read by the tenant's id, never from ``tenant.plan_id``: a request's tenant is
    built from the routing cache and carries no plan, and a plan change must
    apply to the very next request.
    """
    return Plan.objects.filter(tenants__pk=tenant.pk).first() or default_plan()
