"""The integration pages: admins register, rotate and revoke apps (the secret shown
once, everything audited); members are refused; each user withdraws their own grants."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context
from oauth2_provider.models import Application

from audit.models import AuditEvent
from tests.conftest import client_for, sign_in

from .conftest import basic, client_token, code_token, make_user, register

pytestmark = pytest.mark.django_db


def _events(tenant, action: str) -> int:
    return AuditEvent.objects.filter(chain=tenant.schema_name, action=action).count()


def test_an_admin_registers_an_app_and_sees_the_secret_once(tenant_a, owner_client_a):
    page = owner_client_a.get("/settings/integrations/")
    assert page.status_code == 200
    created = owner_client_a.post(
        "/settings/integrations/",
        {"name": "Payroll sync", "grant_type": "client-credentials",
         "scopes": ["workspace:read", "staff:read"], "role": "member"},
    )  # fmt: skip
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    secret = created.context["client_secret"]
    client_id = created.context["app"].client_id
    assert secret in created.content.decode()
    # the secret works at the token endpoint, and is never shown again
    token = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )  # fmt: skip
    assert token.status_code == 200
    listing = owner_client_a.get("/settings/integrations/").content.decode()
    assert "Payroll sync" in listing and client_id in listing and secret not in listing
    with schema_context(tenant_a.schema_name):
        stored = Application.objects.get(client_id=client_id).client_secret
    assert stored != secret  # hashed
    assert _events(tenant_a, "api_app.created") >= 1


def test_registering_needs_scopes_and_a_redirect_uri_for_user_apps(owner_client_a):
    page = owner_client_a.post(
        "/settings/integrations/",
        {"name": "Web app", "grant_type": "authorization-code", "scopes": ["workspace:read"],
         "role": "readonly", "redirect_uris": ""},
    )  # fmt: skip
    assert page.status_code == 200
    assert "client_secret" not in page.context
    assert page.context["form"].errors


def test_rotating_the_secret_ends_the_old_one(tenant_a, owner_a, owner_client_a):
    new = register(tenant_a, owner_a)
    rotated = owner_client_a.post(f"/settings/integrations/{new.application.pk}/rotate/")
    assert rotated.status_code == 200
    fresh = rotated.context["client_secret"]
    old = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert old.status_code == 401
    new_token = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(new.application.client_id, fresh),
    )  # fmt: skip
    assert new_token.status_code == 200
    assert _events(tenant_a, "api_app.secret_rotated") >= 1


def test_revoking_an_app_ends_its_tokens(tenant_a, owner_a, owner_client_a):
    new = register(tenant_a, owner_a)
    token = client_token(tenant_a, new)
    client_for(tenant_a).get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
    listing = owner_client_a.get("/settings/integrations/").content.decode()
    assert new.application.name in listing
    revoked = owner_client_a.post(f"/settings/integrations/{new.application.pk}/revoke/")
    assert revoked.status_code == 302
    me = client_for(tenant_a).get(
        "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token['access_token']}"
    )
    assert me.status_code == 401
    assert _events(tenant_a, "api_app.revoked") >= 1


def test_members_cannot_manage_integrations(tenant_a, owner_a):
    member = make_user(tenant_a, "max@alpha.test", "member")
    browser = client_for(tenant_a)
    assert sign_in(browser, member.email)
    assert browser.get("/settings/integrations/").status_code == 403
    new = register(tenant_a, owner_a)
    assert browser.post(f"/settings/integrations/{new.application.pk}/revoke/").status_code == 403


def test_a_user_sees_and_withdraws_the_apps_they_authorised(tenant_a, owner_a):
    member = make_user(tenant_a, "una@alpha.test", "member")
    new = register(tenant_a, owner_a, grant="authorization-code")
    token = code_token(tenant_a, new, member, scope="documents:read")
    browser = client_for(tenant_a)
    assert sign_in(browser, member.email)
    page = browser.get("/account/apps/").content.decode()
    assert new.application.name in page and "documents:read" in page
    withdrawn = browser.post(f"/account/apps/{new.application.pk}/revoke/")
    assert withdrawn.status_code == 302
    assert new.application.name not in browser.get("/account/apps/").content.decode()
    me = client_for(tenant_a).get(
        "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token['access_token']}"
    )
    assert me.status_code == 401
    assert _events(tenant_a, "api_app.authorization_revoked") >= 1
    # nobody else's grant can be withdrawn through this page
    assert browser.post(f"/account/apps/{new.application.pk}/revoke/").status_code == 404
