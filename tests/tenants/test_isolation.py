"""Tenant isolation through the ORM and through HTTP."""

from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

from tests.conftest import PASSWORD, WORKSPACES, client_for, sign_in

User = get_user_model()


def test_users_of_a_are_invisible_in_b(tenant_a, tenant_b):
    with schema_context(tenant_a.schema_name):
        User.objects.create_user("only-in-a@alpha.test", PASSWORD)
        assert User.objects.filter(email="only-in-a@alpha.test").exists()
    with schema_context(tenant_b.schema_name):
        assert not User.objects.filter(email="only-in-a@alpha.test").exists()
        assert set(User.objects.values_list("email", flat=True)) == {
            WORKSPACES["beta"]["owner_email"]
        }


def test_user_of_a_cannot_sign_in_on_b(tenant_b):
    client = client_for(tenant_b)
    assert not sign_in(client, WORKSPACES["alpha"]["owner_email"])
    assert client.get("/").status_code == 302


def test_session_cookie_of_a_is_not_valid_on_b(owner_client_a, tenant_a, tenant_b):
    assert owner_client_a.get("/").status_code == 200
    cookie = owner_client_a.cookies["atrium_session"].value
    intruder = client_for(tenant_b)
    intruder.cookies["atrium_session"] = cookie
    response = intruder.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    # ...and it still works where it belongs.
    back_home = client_for(tenant_a)
    back_home.cookies["atrium_session"] = cookie
    assert back_home.get("/").status_code == 200


def test_dashboard_shows_only_own_workspace(owner_client_a, tenant_b):
    response = owner_client_a.get("/")
    assert b"Alpha Partners" in response.content
    assert tenant_b.name.encode() not in response.content


def test_public_schema_has_no_tenant_users(tenant_a):
    # Vendor staff live in the public schema's user table; partner staff never do.
    assert not User.objects.filter(email=WORKSPACES["alpha"]["owner_email"]).exists()
