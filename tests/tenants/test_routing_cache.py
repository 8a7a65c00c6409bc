"""Host → tenant routing: no SQL on a cache hit, invalidation on a state change, and a
search_path that always matches the request's host even when it is reused."""

import pytest
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from core.principal import SYSTEM
from tenants import routing
from tenants.middleware import TenantRoutingMiddleware
from tenants.services import tenant_reactivate, tenant_suspend
from tests.conftest import client_for, host_of


def _sql(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries]


def test_cache_hit_costs_no_query(tenant_a):
    client = client_for(tenant_a)
    with CaptureQueriesContext(connection) as miss:
        assert client.get("/").status_code == 302
    assert any("tenants_domain" in sql for sql in _sql(miss))

    # The anonymous dashboard redirects to sign-in without touching the database.
    with CaptureQueriesContext(connection) as hit:
        assert client.get("/").status_code == 302
    assert _sql(hit) == []

    # Another worker (empty in-process table) is served from Redis, still without SQL.
    routing.clear_local()
    with CaptureQueriesContext(connection) as shared_hit:
        assert client.get("/").status_code == 302
    assert _sql(shared_hit) == []


def test_signed_in_request_spends_at_most_one_statement_on_tenancy(owner_client_a, tenant_a):
    # A page that reads no plan (the home page joins the plan to the tenant on purpose).
    owner_client_a.get("/account/")
    with CaptureQueriesContext(connection) as captured:
        response = owner_client_a.get("/account/")
    assert response.status_code == 200
    assert tenant_a.name.encode() in response.content
    sql = _sql(captured)
    assert not any("tenants_domain" in s or "tenants_tenant" in s for s in sql)
    assert sum("search_path" in s for s in sql) <= 1


def test_state_change_invalidates_the_cached_route(tenant_a, django_capture_on_commit_callbacks):
    client = client_for(tenant_a)
    assert client.get("/").status_code == 302  # cached as active

    with django_capture_on_commit_callbacks(execute=True):
        tenant_suspend(actor=SYSTEM, tenant=tenant_a, reason="test")
    response = client.get("/")
    assert response.status_code == 403
    assert b"suspended" in response.content

    with django_capture_on_commit_callbacks(execute=True):
        tenant_reactivate(actor=SYSTEM, tenant=tenant_a, reason="test")
    assert client.get("/").status_code == 302


def test_unknown_host_is_answered_without_a_view(db):
    response = client_for(None).get("/", HTTP_HOST="nobody.localhost")
    assert response.status_code == 404
    assert routing.resolve_host("nobody.localhost") is None


# -- the search_path follows the host, also when the middleware reuses it --------------


@pytest.fixture
def route():
    middleware = TenantRoutingMiddleware(lambda request: HttpResponse())
    factory = RequestFactory()

    def route(host: str) -> None:
        assert middleware.process_request(factory.get("/", HTTP_HOST=host)) is None

    return route


def current_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def test_each_request_runs_on_its_hosts_schema(route, tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b, tenant_a, tenant_a, tenant_b):
        route(host_of(tenant))
        assert current_schema() == tenant.schema_name
    route("localhost")
    assert current_schema() == "public"


def test_same_schema_again_sets_no_search_path(route, tenant_a):
    route(host_of(tenant_a))
    current_schema()
    route(host_of(tenant_a))
    with CaptureQueriesContext(connection) as captured:
        assert current_schema() == tenant_a.schema_name
    assert not any("search_path" in sql for sql in _sql(captured))


def test_search_path_reverted_by_a_rollback_is_set_again(route, tenant_a):
    route("localhost")
    assert current_schema() == "public"
    route(host_of(tenant_a))
    with pytest.raises(RuntimeError), transaction.atomic():
        # The SET search_path issued here is undone by the rollback.
        assert current_schema() == tenant_a.schema_name
        raise RuntimeError("the view failed")

    route(host_of(tenant_a))  # same schema: the middleware keeps the backend's record
    assert current_schema() == tenant_a.schema_name
