"""Host routing: public site, workspaces, unknown hosts, inactive workspaces."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.principal import SYSTEM
from tenants.services import tenant_reactivate, tenant_suspend
from tests.conftest import client_for


def test_public_site_landing(public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"Create your workspace" in response.content


def test_unknown_host_gets_the_public_404_page(db):
    from django.test import Client

    response = Client(HTTP_HOST="nobody-here.localhost").get("/")
    assert response.status_code == 404
    assert b"Find my workspace" in response.content


def test_disallowed_host_is_refused_without_500(db):
    from django.test import Client

    response = Client(HTTP_HOST="evil.example.com").get("/")
    assert response.status_code in (400, 404)


@pytest.mark.parametrize(
    "host, path, target",
    [
        ("127.0.0.1:8000", "/", "http://localhost:8000/"),
        ("127.0.0.1:8080", "/signup/?x=1", "http://localhost:8080/signup/?x=1"),
        ("[::1]:8000", "/", "http://localhost:8000/"),
        ("127.0.0.1", "/", "http://localhost/"),
    ],
)
def test_loopback_address_redirects_to_the_public_site_in_development(
    db, settings, host, path, target
):
    from django.test import Client

    settings.DEBUG = True
    response = Client(HTTP_HOST=host).get(path)
    assert response.status_code == 302
    assert response["Location"] == target


def test_loopback_address_is_not_redirected_in_production(db, settings):
    from django.test import Client

    settings.DEBUG = False
    assert Client(HTTP_HOST="127.0.0.1:8000").get("/").status_code == 404


def test_unknown_path_on_public_site_is_a_404_page(public_client):
    response = public_client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"There is nothing here" in response.content


def test_suspended_workspace_gets_a_clear_page_and_no_view_runs(
    tenant_a, owner_client_a, django_capture_on_commit_callbacks
):
    assert owner_client_a.get("/").status_code == 200  # route cached as active
    with django_capture_on_commit_callbacks(execute=True):
        tenant_suspend(actor=SYSTEM, tenant=tenant_a, reason="test")
    response = owner_client_a.get("/")
    assert response.status_code == 403
    assert b"suspended" in response.content
    assert b"Signed in as" not in response.content
    # Not even the sign-in form is served.
    assert client_for(tenant_a).get("/accounts/login/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        tenant_reactivate(actor=SYSTEM, tenant=tenant_a, reason="test")
    assert owner_client_a.get("/").status_code == 200


def test_provisioning_workspace_is_unavailable(tenant_a):
    tenant_a.state = tenant_a.State.PROVISIONING
    tenant_a.save(update_fields=["state"])
    response = client_for(tenant_a).get("/accounts/login/")
    assert response.status_code == 503
    assert response["Retry-After"]


def test_cached_host_costs_no_routing_query(tenant_a):
    client = client_for(tenant_a)
    client.get("/accounts/login/")  # warms the cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/accounts/login/")
    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any("tenants_domain" in sql for sql in statements), statements
    assert sum(sql.startswith("SET search_path") for sql in statements) <= 1


def test_first_request_resolves_the_host_once(tenant_a):
    with CaptureQueriesContext(connection) as queries:
        client_for(tenant_a).get("/accounts/login/")
    lookups = [q for q in queries.captured_queries if "tenants_domain" in q["sql"]]
    assert len(lookups) == 1
