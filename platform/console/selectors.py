"""Reads of the console: the fleet (search, filters, sort, pages), one workspace's page,
vendor staff. Every figure comes from the public schema (``WorkspaceUsage``): no
request visits a workspace's schema.

Billing's figures (billing status, trial end, Stripe customer id) join in through
``billing.selectors``: filters as a subquery, a page's summaries in one query.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

import audit.selectors as audit
import billing.selectors as billing
import tenants.selectors as tenants
from core.principal import require_vendor_role
from tenants.selectors import Node, Tenant

from .models import WorkspaceUsage

PAGE_SIZE = 50
# Sort keys offered by the fleet page: key -> ORDER BY (each served by an index of
# WorkspaceUsage; tenant ids grow with creation, so they order by age).
SORTS = {
    "-created": ("-tenant_id",),
    "created": ("tenant_id",),
    "name": ("name", "tenant_id"),
    "-activity": (F("last_activity_at").desc(nulls_last=True), "-tenant_id"),
    "-seats": ("-seats_used", "-tenant_id"),
    "-storage": ("-storage_bytes", "-tenant_id"),
}
DEFAULT_SORT = "-created"
TRIAL_SOON_DAYS = 7


@dataclass(frozen=True)
class FleetQuery:
    """What a vendor asks of the fleet; every part optional."""

    q: str = ""
    state: str = ""
    plan: str = ""  # plan code
    billing_status: str = ""  # billing.selectors.BILLING_STATUSES
    trial_ending: bool = False  # the trial ends within TRIAL_SOON_DAYS
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


def _filtered(query: FleetQuery) -> QuerySet:
    """The fleet's rows (one ``WorkspaceUsage`` per workspace) that match ``query``."""
    rows = WorkspaceUsage.objects.all()
    term = query.q.strip().lower()
    if term:
        if term.startswith("cus_"):
            # A Stripe customer id ("cus_…") matches exactly, through billing.
            rows = rows.filter(tenant_id__in=billing.tenant_ids(customer_id=query.q.strip()))
        else:
            # Name, slug, owner email or a domain containing the term: LIKE on the
            # lower-case search text, served by its trigram index.
            rows = rows.filter(search__contains=term)
    # The row's copies of the tenant's columns: each filter served by an index of this
    # table, and the count needs no join.
    if query.state in Tenant.State.values:
        rows = rows.filter(state=query.state)
    if query.plan:
        rows = rows.filter(plan__code=query.plan)
    if query.read_only == "yes":
        rows = rows.filter(read_only=True)
    elif query.read_only == "no":
        rows = rows.filter(read_only=False)
    if query.billing_status:
        rows = rows.filter(tenant_id__in=billing.tenant_ids(status=query.billing_status))
    if query.trial_ending:
        soon = timezone.now() + timedelta(days=TRIAL_SOON_DAYS)
        rows = rows.filter(tenant_id__in=billing.tenant_ids(trial_ends_before=soon))
    return rows


# What a fleet row shows: the usage figures and the tenant's own columns (plain values,
# no model instances: a page is 50 rows, each read once).
FLEET_COLUMNS = (
    "tenant_id",
    "seats_used",
    "storage_bytes",
    "last_activity_at",
    "tenant__name",
    "tenant__slug",
    "tenant__state",
    "tenant__read_only_reasons",
    "tenant__plan_id",
    "tenant__created_at",
)


def fleet_search(*, actor, query: FleetQuery, page: int | str = 1) -> Page:
    """One page of the fleet: dicts of ``FLEET_COLUMNS`` (two queries: the count and the
    page; the plan's figures come from ``fleet_plans``)."""
    require_vendor_role(actor, "viewer")
    order = SORTS.get(query.sort, SORTS[DEFAULT_SORT])
    rows = _filtered(query)
    return _FleetPaginator(rows.order_by(*order).values(*FLEET_COLUMNS), rows).get_page(page)


class _FleetPaginator(Paginator):
    """Pages of the fleet's rows, counted on the usage table alone (the page's join to
    the tenants for their own columns is no filter: one row per workspace)."""

    def __init__(self, rows: QuerySet, filtered: QuerySet) -> None:
        super().__init__(rows, PAGE_SIZE)
        self.filtered = filtered

    @cached_property
    def count(self) -> int:
        return self.filtered.count()


@dataclass(frozen=True)
class FleetPlan:
    """A plan as the fleet shows and filters it."""

    pk: int
    code: str
    name: str
    max_staff: int
    storage_quota_bytes: int


def fleet_plans() -> list[FleetPlan]:
    """Every plan, smallest first (one query: the filter's choices and the rows' limits)."""
    plan_model = Tenant._meta.get_field("plan").related_model
    return [
        FleetPlan(*values)
        for values in plan_model.objects.order_by("max_staff").values_list(
            "pk", "code", "name", "max_staff", "storage_quota_bytes"
        )
    ]


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
HISTORY_ACTIONS = (
    "tenant.suspended",
    "tenant.activated",
    "tenant.access_restricted",
    "tenant.access_restored",
    "tenant.deletion_scheduled",
    "workspace.export_requested",
    "workspace.deletion_scheduled",
    "workspace.deletion_cancelled",
    "support.session_started",
    "support.session_ended",
    "billing.trial_extended",
    "billing.plan_comped",
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


def state_choices() -> list[tuple[str, str]]:
    """(state, label) of workspaces."""
    return Tenant.State.choices


def billing_statuses() -> list[tuple[str, str]]:
    """(status, label) of billing accounts, for the filter."""
    return list(billing.BILLING_STATUSES)


def billing_of(tenant_ids: list[int]) -> dict:
    """Billing summaries of ``tenant_ids`` by tenant id (one query)."""
    return billing.billing_summaries(tenant_ids) if tenant_ids else {}


def plans() -> list[tuple[str, str]]:
    """(code, name) of the plans, smallest first (the comp form's choices)."""
    return [(plan.code, plan.name) for plan in fleet_plans()]


def vendor_staff(*, actor) -> QuerySet:
    """Every vendor staff account (the admins' staff page)."""
    require_vendor_role(actor, "viewer")
    return get_user_model().objects.filter(is_staff=True).order_by("email")


@dataclass(frozen=True)
class Placement:
    """Where a workspace's schema lives on a Citus cluster."""

    node: Node | None  # None: not distributed yet
    loads: list[tuple[Node, int]]  # every worker node, with the workspaces it holds

    @property
    def other_nodes(self) -> list[Node]:
        return [node for node, _count in self.loads if node != self.node]


def placement_of(tenant: Tenant) -> Placement | None:
    """The workspace's node and the cluster's workers on a Citus coordinator; None on
    plain PostgreSQL."""
    if not tenants.citus_enabled():
        return None
    node, loads = tenants.placement(tenant.schema_name)
    return Placement(node=node, loads=loads)
