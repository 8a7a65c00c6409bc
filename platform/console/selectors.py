"""Reads of the console: the fleet (search, filters, sort, pages), one workspace's page,
vendor staff. Every figure comes from the public schema (``WorkspaceUsage``): no
request visits a workspace's schema.

Billing's figures (billing status, trial end, Stripe customer id) join in through
``billing.selectors`` once billing has them: see the ``TODO(billing)`` marks.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

import audit.selectors as audit
from core.principal import require_vendor_role
from tenants.selectors import Tenant

from .models import WorkspaceUsage

PAGE_SIZE = 50
# Sort keys offered by the fleet page: key -> ORDER BY (a unique tie-breaker last).
SORTS = {
    "name": ("name", "pk"),
    "-created": ("-created_at", "-pk"),
    "created": ("created_at", "pk"),
    "-activity": ("-usage__last_activity_at", "-pk"),
    "-seats": ("-usage__seats_used", "-pk"),
    "-storage": ("-usage__storage_bytes", "-pk"),
}
DEFAULT_SORT = "-created"
TRIAL_SOON_DAYS = 7


@dataclass(frozen=True)
class FleetQuery:
    """What a vendor asks of the fleet; every part optional."""

    q: str = ""
    state: str = ""
    plan: str = ""  # plan code
    billing_status: str = ""  # TODO(billing): billing.selectors' statuses
    trial_ending: bool = False  # TODO(billing): trial ends within TRIAL_SOON_DAYS
    read_only: str = ""  # "", "yes", "no"
    sort: str = DEFAULT_SORT

    def criteria(self) -> dict[str, str]:
        """The non-empty parts, as text (the audit event's changes)."""
        parts = {
            "state": self.state,
            "plan": self.plan,
            "billing_status": self.billing_status,
            "trial_ending": "yes" if self.trial_ending else "",
            "read_only": self.read_only,
            "sort": self.sort if self.sort != DEFAULT_SORT else "",
        }
        return {k: v for k, v in parts.items() if v}

    @property
    def is_search(self) -> bool:
        return bool(self.q.strip() or self.criteria())


def _domain_model():
    return Tenant._meta.get_field("domains").related_model


def _text_match(term: str) -> Q:
    """Name, slug, owner email or a domain containing ``term`` (trigram-indexed ILIKE)."""
    domains = _domain_model().objects.filter(domain__icontains=term).values("tenant_id")
    match = (
        Q(name__icontains=term)
        | Q(slug__icontains=term)
        | Q(owner_email__icontains=term)
        | Q(pk__in=domains)
    )
    # TODO(billing): OR the tenants whose Stripe customer id is ``term``:
    #   match |= Q(pk__in=billing.selectors.tenant_ids_for_customer(term))
    return match


def _filtered(query: FleetQuery) -> QuerySet:
    tenants = Tenant.objects.all()
    term = query.q.strip()
    if term:
        tenants = tenants.filter(_text_match(term))
    if query.state in Tenant.State.values:
        tenants = tenants.filter(state=query.state)
    if query.plan:
        tenants = tenants.filter(plan__code=query.plan)
    if query.read_only == "yes":
        tenants = tenants.exclude(read_only_reasons=[])
    elif query.read_only == "no":
        tenants = tenants.filter(read_only_reasons=[])
    # TODO(billing): billing_status and trial_ending filter on billing's account rows:
    #   tenants = tenants.filter(pk__in=billing.selectors.tenant_ids(status=..., trial_before=
    #       timezone.now() + timedelta(days=TRIAL_SOON_DAYS)))
    return tenants


def fleet_search(*, actor, query: FleetQuery, page: int = 1) -> Page:
    """One page of the fleet: tenants with their plan and usage row (two queries: the
    count and the page)."""
    require_vendor_role(actor, "viewer")
    order = SORTS.get(query.sort, SORTS[DEFAULT_SORT])
    tenants = (
        _filtered(query)
        .select_related("plan", "usage")
        .only(
            "id",
            "name",
            "slug",
            "state",
            "created_at",
            "read_only_reasons",
            "owner_email",
            "plan__name",
            "plan__code",
            "plan__max_staff",
            "plan__storage_quota_bytes",
            "usage__seats_used",
            "usage__storage_bytes",
            "usage__documents_count",
            "usage__last_activity_at",
        )
        .order_by(*order)
    )
    return Paginator(tenants, PAGE_SIZE).get_page(page)


def workspace(*, actor, tenant_id: int):
    """The tenant with its plan, usage row (``.usage`` may be missing: not measured yet)
    and domains."""
    require_vendor_role(actor, "viewer")
    return (
        Tenant.objects.select_related("plan", "usage")
        .prefetch_related("domains")
        .filter(pk=tenant_id)
        .first()
    )


def usage_of(tenant) -> WorkspaceUsage | None:
    try:
        return tenant.usage
    except WorkspaceUsage.DoesNotExist:
        return None


def recent_events(*, actor, tenant, limit: int = 20) -> list:
    """The newest events of the tenant's own chain (vendor staff only)."""
    return list(audit.chain_events(chain=tenant.schema_name, user=actor)[:limit])


# The workspace's lifecycle as its own chain records it (the tenants services' events;
# the console's own events, with the vendor's role, are in the platform's chain). Read
# from the workspace's chain: bounded by the workspace, not by the whole platform's log.
# TODO(billing, offboarding, support): add their actions (trial extended, comp, export,
# deletion scheduled/restored) at merge.
HISTORY_ACTIONS = (
    "tenant.suspended",
    "tenant.activated",
    "tenant.access_restricted",
    "tenant.access_restored",
    "tenant.deletion_scheduled",
)


def action_history(*, actor, tenant, limit: int = 50) -> list:
    """Lifecycle actions on ``tenant``, newest first (vendor staff only)."""
    return list(
        audit.chain_events(
            chain=tenant.schema_name,
            user=actor,
            filters=audit.EventFilter(actions=HISTORY_ACTIONS),
        )[:limit]
    )


def plans() -> list[tuple[str, str]]:
    """(code, name) of the plans, for the filter."""
    plan_model = Tenant._meta.get_field("plan").related_model
    return list(plan_model.objects.order_by("max_staff").values_list("code", "name"))


def vendor_staff(*, actor) -> QuerySet:
    """Every vendor staff account (the admins' staff page)."""
    require_vendor_role(actor, "viewer")
    return get_user_model().objects.filter(is_staff=True).order_by("email")
