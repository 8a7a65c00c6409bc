"""The fleet: search, filters, sort, pages, audited reads, and the usage figures kept in
the public schema."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django_tenants.utils import schema_context

import console.services as console
from accounts.models import User
from console.models import WorkspaceUsage
from core.principal import SYSTEM
from tests.audit.helpers import capture_audit


def slugs(response) -> list[str]:
    return [row["slug"] for row in response.context["rows"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("alph", ["alpha"]),  # slug and name
        ("BETA PART", ["beta"]),  # name, any case
        ("owner@beta.test", ["beta"]),  # owner email
        ("alpha.localhost", ["alpha"]),  # domain
        ("partners", ["alpha", "beta"]),
        ("nothing-like-this", []),
    ],
)
def test_search_by_name_slug_owner_email_and_domain(vendor_factory, query, found):
    _viewer, client = vendor_factory("viewer")
    response = client.get("/console/", {"q": query, "sort": "name"})
    assert response.status_code == 200
    assert slugs(response) == found


@pytest.mark.django_db
def test_filters_and_sort(vendor_factory, tenant_a, tenant_b):
    _viewer, client = vendor_factory("viewer")
    console.workspace_suspend(actor=SYSTEM, tenant_id=tenant_b.pk, reason="test")
    assert slugs(client.get("/console/", {"state": "suspended"})) == ["beta"]
    assert slugs(client.get("/console/", {"state": "active", "q": "partners"})) == ["alpha"]
    plan = tenant_a.plan.code if tenant_a.plan else ""
    if plan:
        assert "alpha" in slugs(client.get("/console/", {"plan": plan}))
    console.workspace_freeze(actor=SYSTEM, tenant_id=tenant_a.pk, reason="test")
    assert slugs(client.get("/console/", {"read_only": "yes"})) == ["alpha"]
    assert "alpha" not in slugs(client.get("/console/", {"read_only": "no"}))
    WorkspaceUsage.objects.update_or_create(tenant_id=tenant_a.pk, defaults={"seats_used": 3})
    WorkspaceUsage.objects.update_or_create(tenant_id=tenant_b.pk, defaults={"seats_used": 9})
    assert slugs(client.get("/console/", {"q": "partners", "sort": "-seats"})) == ["beta", "alpha"]
    assert slugs(client.get("/console/", {"q": "partners", "sort": "name"})) == ["alpha", "beta"]


@pytest.mark.django_db
def test_a_search_is_audited_in_the_platform_chain(vendor_factory):
    viewer, client = vendor_factory("viewer")
    with capture_audit() as events:
        client.get("/console/", {"q": "owner@alpha.test", "state": "active"})
    (event,) = events
    assert (event.action, event.chain, event.actor_id) == (
        "console.fleet_searched",
        "",
        str(viewer.pk),
    )
    assert event.changes == {"query": "owner@alpha.test", "state": "active"}
    with capture_audit() as events:
        client.get("/console/")  # the plain list is no search
    assert events == []


@pytest.mark.django_db
def test_the_workspace_page_is_audited_in_the_workspace_chain(vendor_factory, tenant_a):
    viewer, client = vendor_factory("viewer")
    console.usage_refresh(actor=SYSTEM, tenant_id=tenant_a.pk)
    with capture_audit() as events:
        response = client.get(f"/console/w/{tenant_a.pk}/")
    assert response.status_code == 200
    (event,) = events
    assert (event.action, event.chain, event.actor_type, event.actor_id) == (
        "console.workspace_viewed",
        tenant_a.schema_name,
        "vendor",
        str(viewer.pk),
    )
    assert b"owner@alpha.test" in response.content
    # The tenant's chain, newest first: the look itself is the newest event.
    assert response.context["events"][0].action == "console.workspace_viewed"
    # A viewer sees no action buttons.
    assert b"/suspend/" not in response.content
    assert client.get("/console/w/999999/").status_code == 404


@pytest.mark.django_db
def test_pages_of_fifty(vendor_factory, tenant_a):
    _viewer, client = vendor_factory("viewer")
    from tenants.models import Tenant

    for i in range(60):  # saved one by one: the console's receivers make their rows
        Tenant.objects.create(
            schema_name=f"t_page{i}",
            name=f"Paged {i}",
            slug=f"paged{i}",
            owner_email=f"o{i}@paged.test",
            state="active",
        )
    first = client.get("/console/", {"q": "paged", "sort": "name"})
    second = client.get("/console/", {"q": "paged", "sort": "name", "page": 2})
    assert len(first.context["rows"]) == 50 and len(second.context["rows"]) == 10
    assert set(slugs(first)).isdisjoint(slugs(second))


@pytest.mark.django_db
def test_fleet_reads_refuse_a_workspace_user(owner_a):
    from console.selectors import FleetQuery, fleet_search

    with pytest.raises(PermissionDenied):
        fleet_search(actor=owner_a, query=FleetQuery())
    with pytest.raises(PermissionDenied):
        console.fleet_search_record(actor=owner_a, query="alpha", filters={})


@pytest.mark.django_db
def test_usage_figures_follow_the_workspace_after_commit(
    tenant_a, django_capture_on_commit_callbacks
):
    console.usage_refresh_all(actor=SYSTEM)  # every row fresh
    WorkspaceUsage.objects.update(stale_since=None)
    before = WorkspaceUsage.objects.get(pk=tenant_a.pk)
    assert before.active_staff >= 1
    assert any(a["email"] == "owner@alpha.test" for a in before.admins)
    with django_capture_on_commit_callbacks(execute=True):
        connection.set_tenant(tenant_a)
        User.objects.create_user("newadmin@alpha.test", "x", role="admin")
        connection.set_schema_to_public()
    marked = WorkspaceUsage.objects.get(pk=tenant_a.pk)
    assert marked.stale_since is not None
    assert marked.active_staff == before.active_staff  # not yet: the task does it
    assert console.usage_refresh_stale(actor=SYSTEM) == 1
    after = WorkspaceUsage.objects.get(pk=tenant_a.pk)
    assert after.stale_since is None
    assert after.active_staff == before.active_staff + 1
    assert after.seats_used == before.seats_used + 1
    assert any(a["email"] == "newadmin@alpha.test" for a in after.admins)
    assert console.usage_refresh_stale(actor=SYSTEM) == 0


@pytest.mark.django_db
def test_a_session_refresh_moves_last_activity(
    tenant_a, owner_a, django_capture_on_commit_callbacks
):
    console.usage_refresh(actor=SYSTEM, tenant_id=tenant_a.pk)
    WorkspaceUsage.objects.filter(pk=tenant_a.pk).update(last_activity_at=None)
    from accounts.models import UserSession

    with django_capture_on_commit_callbacks(execute=True), schema_context(tenant_a.schema_name):
        UserSession.objects.create(user=owner_a, session_key="k" * 32)
    assert WorkspaceUsage.objects.get(pk=tenant_a.pk).last_activity_at is not None


@pytest.mark.django_db
def test_a_new_workspace_has_its_row_and_its_search_text_follows_it(vendor_factory):
    from tenants.models import Domain, Tenant

    _viewer, client = vendor_factory("viewer")
    tenant = Tenant.objects.create(
        schema_name="t_fresh", name="Fresh Fig", slug="freshfig", owner_email="A@Fig.test"
    )
    row = WorkspaceUsage.objects.get(pk=tenant.pk)
    assert row.search == "fresh fig freshfig a@fig.test" and row.stale_since is not None
    Domain.objects.create(domain="docs.fig.example", tenant=tenant, is_primary=False)
    assert slugs(client.get("/console/", {"q": "DOCS.FIG"})) == ["freshfig"]
    tenant.name = "Renamed Plum"
    tenant.save()
    assert slugs(client.get("/console/", {"q": "plum"})) == ["freshfig"]
    assert slugs(client.get("/console/", {"q": "fresh fig"})) == []
    # LIKE's wildcards are literal characters in a search.
    assert slugs(client.get("/console/", {"q": "%"})) == []


@pytest.mark.django_db
def test_the_nightly_refresh_makes_missing_rows(tenant_a, tenant_b):
    WorkspaceUsage.objects.all().delete()
    assert console.usage_refresh_all(actor=SYSTEM) >= 2
    assert WorkspaceUsage.objects.filter(pk__in=[tenant_a.pk, tenant_b.pk]).count() == 2


@pytest.mark.django_db
def test_usage_services_refuse_a_workspace_user(owner_a, tenant_a):
    with pytest.raises(PermissionDenied):
        console.usage_refresh(actor=owner_a, tenant_id=tenant_a.pk)
