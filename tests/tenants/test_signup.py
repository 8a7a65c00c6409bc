"""Public signup: field errors, and a successful signup that lands the owner signed in."""

import time

import pytest
from django.core import signing
from django.db import connection

from accounts.services import handoff_token_make
from tenants.models import Domain, Tenant
from tests.conftest import client_for, user_of

GOOD = {
    "name": "Gamma GmbH",
    "slug": "gamma",
    "owner_name": "Greta Gamma",
    "owner_email": "Greta@Gamma.test",
    "owner_password": "Quiet-river-stone-42",
}


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_signup_page_renders(public_client):
    response = public_client.get("/signup/")
    assert response.status_code == 200
    assert b'name="slug"' in response.content


def test_signup_lands_owner_signed_in_on_new_workspace(public_client):
    response = public_client.post("/signup/", GOOD)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("http://gamma.localhost/accounts/welcome/")

    tenant = Tenant.objects.get(slug="gamma")
    assert tenant.state == Tenant.State.ACTIVE
    assert tenant.schema_name == "t_gamma"
    assert Domain.objects.get(tenant=tenant).domain == "gamma.localhost"
    assert schema_exists("t_gamma")
    owner = user_of(tenant, "greta@gamma.test")
    assert owner.role == owner.Role.OWNER
    assert owner.full_name == "Greta Gamma"

    workspace = client_for(tenant)
    landed = workspace.get(location.split("gamma.localhost", 1)[1], follow=True)
    assert landed.status_code == 200
    assert b"Gamma GmbH" in landed.content
    assert b"greta@gamma.test" in landed.content
    assert landed.wsgi_request.user.is_authenticated


def test_welcome_link_works_once(public_client):
    response = public_client.post("/signup/", GOOD)
    path = response["Location"].split("gamma.localhost", 1)[1]
    tenant = Tenant.objects.get(slug="gamma")
    assert client_for(tenant).get(path).status_code == 302
    second = client_for(tenant).get(path, follow=True)
    assert not second.wsgi_request.user.is_authenticated
    assert b"expired or was already used" in second.content


def test_welcome_link_expires(tenant_a, owner_a, monkeypatch):
    monkeypatch.setattr(
        signing.TimestampSigner,
        "timestamp",
        lambda self: signing.b62_encode(int(time.time()) - 3600),
    )
    old = handoff_token_make(schema_name=tenant_a.schema_name, user_id=owner_a.pk)
    monkeypatch.undo()
    response = client_for(tenant_a).get(f"/accounts/welcome/{old}/", follow=True)
    assert not response.wsgi_request.user.is_authenticated


def test_welcome_link_of_one_workspace_is_refused_on_another(tenant_a, tenant_b, owner_a):
    token = handoff_token_make(schema_name=tenant_a.schema_name, user_id=owner_a.pk)
    response = client_for(tenant_b).get(f"/accounts/welcome/{token}/", follow=True)
    assert not response.wsgi_request.user.is_authenticated


def test_forged_welcome_link_is_refused(tenant_a, owner_a):
    forged = signing.dumps({"u": owner_a.pk, "s": tenant_a.schema_name, "l": ""}, salt="other")
    response = client_for(tenant_a).get(f"/accounts/welcome/{forged}/", follow=True)
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "alpha", b"already taken"),
        ("slug", "www", b"reserved"),
        ("slug", "admin", b"reserved"),
        ("slug", "api", b"reserved"),
        ("slug", "support", b"reserved"),
        ("slug", "localhost", b"reserved"),  # the base domain itself
        ("slug", "Bad_Slug", b"lowercase letters"),
        ("slug", "ab", b"lowercase letters"),
        ("slug", "-gamma", b"lowercase letters"),
        ("slug", "gam--ma", b"Hyphens"),
        ("owner_password", "password", b"too common"),
        ("owner_password", "12345678901234", b"entirely numeric"),
        ("owner_password", "short1!", b"too short"),
        ("owner_email", "not-an-email", b"valid email"),
        ("name", "", b"required"),
    ],
)
def test_signup_field_errors(public_client, field, value, message):
    before = Tenant.objects.count()
    response = public_client.post("/signup/", {**GOOD, field: value})
    assert response.status_code == 200
    assert message in response.content
    assert Tenant.objects.count() == before
    if field != "slug":
        assert not schema_exists("t_gamma")


def test_password_similar_to_email_is_refused(public_client):
    response = public_client.post("/signup/", {**GOOD, "owner_password": "greta@gamma.test1"})
    assert response.status_code == 200
    assert b"too similar" in response.content


def test_every_label_of_a_configured_host_is_reserved(public_client, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, ".atrium-cloud.example", "partners.test"]
    for slug in ("atrium-cloud", "example", "partners", "localhost"):
        response = public_client.post("/signup/", {**GOOD, "slug": slug})
        assert b"reserved" in response.content, slug
    assert not Tenant.objects.filter(slug__in=["atrium-cloud", "example", "partners"]).exists()


def test_losing_a_race_for_an_address_says_it_is_taken(public_client, tenant_a, monkeypatch):
    """Both signups passed validation; the other one committed first."""
    import signup.services

    monkeypatch.setattr(signup.services, "slug_taken", lambda slug: False)
    before = Tenant.objects.count()
    response = public_client.post("/signup/", {**GOOD, "slug": tenant_a.slug})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This address is already taken." in html
    assert "schema name" not in html
    assert Tenant.objects.count() == before
