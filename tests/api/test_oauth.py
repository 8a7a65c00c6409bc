"""OAuth2 on a workspace host: both grants end to end through the real endpoints, PKCE
enforced, refresh tokens rotating, tokens bound to their workspace, revocation and
expiry, the token endpoint's rate limit and the public host's 404."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context
from oauth2_provider.models import AccessToken

from api import services
from tests.conftest import client_for, sign_in

from .conftest import (
    REDIRECT,
    authorize,
    basic,
    bearer,
    client_token,
    code_token,
    make_user,
    pkce_pair,
    register,
)

pytestmark = pytest.mark.django_db


def test_public_host_has_no_api_and_no_oauth(public_client):
    for path in ("/api/v1/me", "/o/token/", "/o/authorize/", "/api/schema/"):
        assert public_client.get(path).status_code == 404


def test_client_credentials_end_to_end(tenant_a, owner_a):
    new = register(tenant_a, owner_a, role="member", scopes=["workspace:read", "staff:read"])
    token = client_token(tenant_a, new)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token
    assert set(token["scope"].split()) == {"workspace:read", "staff:read"}
    me = client_for(tenant_a).get("/api/v1/me", **bearer(token))
    assert me.status_code == 200
    assert me.json()["user"] is None  # the app acts alone
    assert me.json()["role"] == "member"  # the role it was given, not its owner's
    assert me.json()["app"]["name"] == new.application.name
    workspace = client_for(tenant_a).get("/api/v1/workspace", **bearer(token)).json()
    assert workspace["slug"] == "alpha"
    assert workspace["plan"]["api_requests_per_minute"] > 0
    # member role: staff:read is in the token, but the role forbids the staff list
    staff = client_for(tenant_a).get("/api/v1/staff/", **bearer(token))
    assert staff.status_code == 403
    assert staff.json()["type"] == "urn:atrium:problem:forbidden"


def test_client_credentials_with_a_wrong_secret_are_refused(tenant_a, owner_a):
    new = register(tenant_a, owner_a)
    response = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(new.application.client_id, "wrong"),
    )  # fmt: skip
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_scope_beyond_the_apps_is_refused(tenant_a, owner_a):
    new = register(tenant_a, owner_a, scopes=["workspace:read"])
    response = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "client_credentials", "scope": "staff:write"},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_authorization_code_with_pkce_end_to_end_and_refresh_rotates(tenant_a, owner_a):
    member = make_user(tenant_a, "mia@alpha.test", "member")
    new = register(tenant_a, owner_a, grant="authorization-code")
    token = code_token(tenant_a, new, member, scope="workspace:read documents:read")
    me = client_for(tenant_a).get("/api/v1/me", **bearer(token)).json()
    assert me["user"]["email"] == "mia@alpha.test"
    assert me["role"] == "member"
    assert me["scopes"] == ["documents:read", "workspace:read"]
    # refresh: a new pair; the old refresh token no longer works
    refreshed = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert refreshed.status_code == 200, refreshed.content
    pair = refreshed.json()
    assert pair["refresh_token"] != token["refresh_token"]
    assert client_for(tenant_a).get("/api/v1/me", **bearer(pair)).status_code == 200


def test_the_consent_page_lists_the_scopes(tenant_a, owner_a):
    new = register(tenant_a, owner_a, grant="authorization-code")
    browser = client_for(tenant_a)
    assert sign_in(browser, owner_a.email)
    _verifier, challenge = pkce_pair()
    page = browser.get(
        "/o/authorize/",
        {"response_type": "code", "client_id": new.application.client_id,
         "redirect_uri": REDIRECT, "scope": "documents:read audit:read",
         "code_challenge": challenge, "code_challenge_method": "S256"},
    )  # fmt: skip
    html = page.content.decode()
    assert new.application.name in html
    assert "documents:read" in html and "audit:read" in html
    assert "staff:write" not in html


def test_pkce_is_required(tenant_a, owner_a):
    new = register(tenant_a, owner_a, grant="authorization-code")
    browser = client_for(tenant_a)
    assert sign_in(browser, owner_a.email)
    page = browser.get(
        "/o/authorize/",
        {"response_type": "code", "client_id": new.application.client_id,
         "redirect_uri": REDIRECT, "scope": "workspace:read"},
    )  # fmt: skip
    # No challenge: refused back to the app, and no code is ever issued.
    assert page.status_code == 302
    query = parse_qs(urlparse(page["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "challenge" in query["error_description"][0].lower()
    assert "code" not in query


def test_a_wrong_code_verifier_is_refused(tenant_a, owner_a):
    new = register(tenant_a, owner_a, grant="authorization-code")
    _verifier, challenge = pkce_pair()
    code = authorize(tenant_a, new, owner_a, scope="workspace:read", challenge=challenge)
    response = client_for(tenant_a).post(
        "/o/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
         "code_verifier": pkce_pair()[0]},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_token_of_workspace_a_is_refused_on_workspace_b(tenant_a, tenant_b, owner_a):
    new = register(tenant_a, owner_a)
    token = client_token(tenant_a, new)
    refused = client_for(tenant_b).get("/api/v1/me", **bearer(token))
    assert refused.status_code == 401
    assert refused.json()["type"] == "urn:atrium:problem:invalid-token"
    assert refused["Content-Type"] == "application/problem+json"
    # and A's client credentials do not exist on B's token endpoint
    response = client_for(tenant_b).post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert response.status_code == 401


def test_no_token_and_a_malformed_header(tenant_a):
    client = client_for(tenant_a)
    none = client.get("/api/v1/me")
    assert none.status_code == 401
    assert none.json()["type"] == "urn:atrium:problem:unauthenticated"
    assert none["WWW-Authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/me", HTTP_AUTHORIZATION="Basic abc")
    assert bad.status_code == 401


def test_revoked_app_and_expired_token_are_refused(tenant_a, owner_a):
    new = register(tenant_a, owner_a)
    token = client_token(tenant_a, new)
    other = register(tenant_a, owner_a)
    expired = client_token(tenant_a, other)
    with schema_context(tenant_a.schema_name):
        AccessToken.objects.filter(application=other.application).update(
            expires=timezone.now() - timedelta(seconds=1)
        )
        services.app_revoke(actor=owner_a, app_id=new.application.pk)
    client = client_for(tenant_a)
    assert client.get("/api/v1/me", **bearer(token)).status_code == 401
    gone = client.get("/api/v1/me", **bearer(expired))
    assert gone.status_code == 401
    assert "expired" in gone.json()["detail"]


def test_a_user_withdraws_an_app_and_its_tokens_stop(tenant_a, owner_a):
    member = make_user(tenant_a, "wanda@alpha.test", "member")
    new = register(tenant_a, owner_a, grant="authorization-code")
    token = code_token(tenant_a, new, member, scope="workspace:read")
    with schema_context(tenant_a.schema_name):
        services.authorization_revoke(actor=member, app_id=new.application.pk)
    assert client_for(tenant_a).get("/api/v1/me", **bearer(token)).status_code == 401
    refreshed = client_for(tenant_a).post(
        "/o/token/", {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert refreshed.status_code == 400


def test_a_deactivated_creator_ends_client_credentials(tenant_a, owner_a):
    admin = make_user(tenant_a, "ada@alpha.test", "admin")
    new = register(tenant_a, admin, role="admin")
    token = client_token(tenant_a, new)
    with schema_context(tenant_a.schema_name):
        admin.is_active = False
        admin.save(update_fields=["is_active"])
    assert client_for(tenant_a).get("/api/v1/me", **bearer(token)).status_code == 401


def test_token_lookup_costs_one_query(tenant_a, owner_a):
    new = register(tenant_a, owner_a)
    token = client_token(tenant_a, new)
    client = client_for(tenant_a)
    client.get("/api/v1/me", **bearer(token))  # warm: routing, plan limit cached
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me", **bearer(token)).status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([sql for sql in statements if "oauth2_provider" in sql]) == 1, statements
    assert len(statements) <= 2, statements  # the token, and at most the schema switch


def test_the_token_endpoint_is_rate_limited(tenant_a, owner_a, settings):
    settings.API_TOKEN_RATE = 3
    new = register(tenant_a, owner_a)
    client = client_for(tenant_a)
    answers = [
        client.post(
            "/o/token/", {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
        ).status_code
        for _ in range(5)
    ]  # fmt: skip
    assert answers[:3] == [200, 200, 200]
    assert answers[3:] == [429, 429]


def test_expired_tokens_are_cleared_per_workspace(tenant_a, tenant_b, owner_a):
    from api.tasks import clear_expired_tokens

    new = register(tenant_a, owner_a)
    client_token(tenant_a, new)
    with schema_context(tenant_a.schema_name):
        AccessToken.objects.update(expires=timezone.now() - timedelta(days=1))
    assert clear_expired_tokens() >= 2  # every workspace, the public schema never
    with schema_context(tenant_a.schema_name):
        assert not AccessToken.objects.exists()
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        services.tokens_clear_expired(actor=owner_a)  # housekeeping is the system's
