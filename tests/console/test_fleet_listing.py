"""The fleet's listing: the usage row's copies of the tenant's columns (what the fleet
filters and sorts on) follow the tenant, and a page's cells read as Django formats them."""

import re
from datetime import UTC, datetime
from urllib.parse import urljoin

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

import console.services as console
from billing.models import Plan
from console import views
from console.forms import FleetForm
from console.models import WorkspaceUsage
from console.selectors import FleetPlan
from core.principal import SYSTEM
from tenants.models import Tenant
from tenants.services import tenant_plan_set


def slugs(response) -> list[str]:
    return [row["slug"] for row in response.context["rows"]]


def copies(tenant: Tenant) -> tuple:
    row = WorkspaceUsage.objects.get(pk=tenant.pk)
    return (row.name, row.state, row.read_only, row.plan_id)


def assert_in_sync(tenant: Tenant) -> None:
    tenant.refresh_from_db()
    assert copies(tenant) == (
        tenant.name,
        tenant.state,
        bool(tenant.read_only_reasons),
        tenant.plan_id,
    )


@pytest.mark.django_db
def test_the_copies_follow_rename_owner_state_freeze_and_plan(vendor_factory, tenant_a):
    _viewer, client = vendor_factory("viewer")
    assert_in_sync(tenant_a)

    tenant_a.name = "Zulu Quince"
    tenant_a.owner_email = "new-owner@quince.test"
    tenant_a.save()
    assert_in_sync(tenant_a)
    assert slugs(client.get("/console/", {"q": "quince"})) == ["alpha"]
    assert slugs(client.get("/console/", {"q": "new-owner@quince"})) == ["alpha"]
    assert slugs(client.get("/console/", {"q": "owner@alpha.test"})) == []
    # The sort by name follows the new name: "Zulu" after "Beta".
    names = slugs(client.get("/console/", {"sort": "name"}))
    assert names.index("beta") < names.index("alpha")

    console.workspace_suspend(actor=SYSTEM, tenant_id=tenant_a.pk, reason="test")
    assert_in_sync(tenant_a)
    assert "alpha" in slugs(client.get("/console/", {"state": "suspended"}))
    assert "alpha" not in slugs(client.get("/console/", {"state": "active"}))

    console.workspace_freeze(actor=SYSTEM, tenant_id=tenant_a.pk, reason="test")
    assert_in_sync(tenant_a)
    assert slugs(client.get("/console/", {"read_only": "yes"})) == ["alpha"]
    console.workspace_unfreeze(actor=SYSTEM, tenant_id=tenant_a.pk, reason="test")
    assert_in_sync(tenant_a)
    assert "alpha" not in slugs(client.get("/console/", {"read_only": "yes"}))

    other = Plan.objects.exclude(pk=tenant_a.plan_id).order_by("-max_staff").first()
    tenant_plan_set(actor=SYSTEM, tenant_id=tenant_a.pk, plan_id=other.pk)
    assert_in_sync(tenant_a)
    assert "alpha" in slugs(client.get("/console/", {"plan": other.code}))


@pytest.mark.django_db
def test_a_refresh_repairs_a_row_whose_copies_drifted(tenant_a):
    WorkspaceUsage.objects.filter(pk=tenant_a.pk).update(
        name="", state="", read_only=True, plan=None, search=""
    )
    console.usage_refresh(actor=SYSTEM, tenant_id=tenant_a.pk)  # also the nightly one's
    assert_in_sync(tenant_a)
    assert "alpha partners" in WorkspaceUsage.objects.get(pk=tenant_a.pk).search


@pytest.mark.django_db
def test_filters_and_sorts_read_the_usage_table_alone(vendor_factory):
    _viewer, client = vendor_factory("viewer")
    for params in (
        {"state": "suspended"},
        {"read_only": "yes"},
        {"read_only": "no"},
        {"plan": Plan.objects.first().code},
        {"q": "partners", "sort": "name"},
    ):
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/console/", params).status_code == 200
        (count,) = [q["sql"] for q in queries if "COUNT(*)" in q["sql"]]
        assert "console_workspaceusage" in count and "tenants_tenant" not in count, params


@pytest.mark.django_db
def test_a_page_costs_the_same_queries_with_1_or_50_rows(vendor_factory):
    _viewer, client = vendor_factory("viewer")
    client.get("/console/", {"page": "1"})  # warm: session row tracking and the like

    def queries(params) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/console/", params)
        return len(captured), len(response.context["rows"])

    few, few_rows = queries({"page": "1"})
    for i in range(55):  # saved one by one: the receivers make their rows
        Tenant.objects.create(
            schema_name=f"t_many{i}", name=f"Many {i}", slug=f"many{i}", owner_email="o@m.test"
        )
    many, many_rows = queries({"page": "1"})
    assert few_rows < 50 and many_rows == 50
    assert many == few


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "de"])
def test_a_rows_cells_read_as_djangos_formats(tenant_a, language):
    plan = Plan.objects.get(pk=tenant_a.plan_id)
    created = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    activity = datetime(2026, 11, 30, 12, 0, 59, tzinfo=UTC)
    row = {
        "tenant_id": tenant_a.pk,
        "seats_used": 3,
        "storage_bytes": 5 * 1024**2,
        "last_activity_at": activity,
        "tenant__name": "Alpha Partners",
        "tenant__slug": "alpha",
        "tenant__state": "suspended",
        "tenant__read_only_reasons": ["vendor_freeze"],
        "tenant__plan_id": plan.pk,
        "tenant__created_at": created,
    }
    plans = [FleetPlan(plan.pk, plan.code, plan.name, plan.max_staff, plan.storage_quota_bytes)]
    with translation.override(language):
        cells = views._FleetCells(plans).row(row)
        assert cells["created"] == date_format(localtime(created), "SHORT_DATE_FORMAT")
        assert cells["activity"] == date_format(localtime(activity), "SHORT_DATETIME_FORMAT")
        assert cells["state"] == str(Tenant.State.SUSPENDED.label)
        assert cells["seats"] == f"3 / {plan.max_staff}"
        assert cells["storage"].startswith("5.0\xa0MB" if language == "en" else "5,0\xa0MB")
        assert cells["plan"] == plan.name and cells["read_only"] is True
        assert cells["state"] == {"en": "Suspended", "de": "Gesperrt"}[language]
    row.update({"last_activity_at": None, "tenant__plan_id": None})
    cells = views._FleetCells(plans).row(row)
    assert (cells["activity"], cells["plan"], cells["seats"]) == ("—", "—", "3 / —")


@pytest.mark.django_db
def test_a_row_links_to_its_workspace_page(vendor_factory, tenant_a):
    _viewer, client = vendor_factory("viewer")
    response = client.get("/console/", {"q": "alpha.localhost"})
    (href,) = re.findall(r'<a href="(w/\d+/)">', response.content.decode())
    page = client.get(urljoin("/console/", href))
    assert page.status_code == 200 and page.context["tenant"].pk == tenant_a.pk


def test_the_filter_selects_write_what_djangos_select_writes():
    choices = [("", "Any"), ("a", "A & B"), ("b", "<b>")]
    form = FleetForm({"read_only": "yes"}, plans=choices, billing_statuses=choices)
    for name in ("state", "plan", "billing_status", "read_only", "sort"):
        field = form[name]
        stock = forms.Select(choices=field.field.choices).render(
            field.html_name, field.value(), attrs={"id": field.auto_id}
        )
        assert str(field) == stock, name
