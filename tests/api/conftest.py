"""Fixtures of the API tests: apps registered through the service, tokens obtained from
the real token endpoint, staff of each role."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django_tenants.utils import schema_context

from api import services
from tests.conftest import PASSWORD, client_for, sign_in
from tests.uploads.conftest import fs_storage  # noqa: F401 - a fixture

ALL_SCOPES = [
    "workspace:read", "staff:read", "staff:write", "documents:read", "documents:write",
    "audit:read", "billing:read",
]  # fmt: skip
REDIRECT = "https://app.example/callback"


@pytest.fixture(autouse=True)
def _fresh_api_state():
    """Rate-limit windows and idempotency keys of earlier tests are forgotten."""
    from api.limits import forget_plan_limits, redis_client

    client = redis_client()
    for key in client.scan_iter(match="*api:*"):
        client.delete(key)
    forget_plan_limits()
    caches["default"].clear()
    yield


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def make_user(tenant, email: str, role: str):
    with schema_context(tenant.schema_name):
        user, _ = get_user_model().objects.get_or_create(
            email=email, defaults={"role": role, "full_name": email.split("@")[0]}
        )
        user.role = role
        user.is_active = True
        user.set_password(PASSWORD)
        user.save()
        return user


def register(tenant, creator, *, grant="client-credentials", scopes=None, role="admin"):
    with schema_context(tenant.schema_name):
        return services.app_create(
            actor=creator,
            name=f"App {secrets.token_hex(3)}",
            grant_type=grant,
            scopes=scopes or ALL_SCOPES,
            redirect_uris=REDIRECT if grant == "authorization-code" else "",
            role=role,
        )


def client_token(tenant, new, scope: str | None = None) -> dict:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = client_for(tenant).post(
        "/o/token/", data, HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret)
    )
    assert response.status_code == 200, response.content
    return response.json()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def authorize(tenant, new, user, *, scope: str, challenge: str | None) -> str:
    """Sign ``user`` in, allow the app on the consent page; the authorization code."""
    browser = client_for(tenant)
    assert sign_in(browser, user.email)
    params = {
        "response_type": "code", "client_id": new.application.client_id,
        "redirect_uri": REDIRECT, "scope": scope, "state": "xyz",
    }  # fmt: skip
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    page = browser.get("/o/authorize/", params)
    assert page.status_code == 200
    form = page.context["form"].initial
    answer = browser.post(
        "/o/authorize/",
        {**{k: v for k, v in form.items() if v is not None}, "allow": "Authorize"},
    )
    assert answer.status_code == 302, answer.content
    query = parse_qs(urlparse(answer["Location"]).query)
    assert query.get("state") == ["xyz"]
    return query["code"][0]


def code_token(tenant, new, user, *, scope: str) -> dict:
    verifier, challenge = pkce_pair()
    code = authorize(tenant, new, user, scope=scope, challenge=challenge)
    response = client_for(tenant).post(
        "/o/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
         "code_verifier": verifier},
        HTTP_AUTHORIZATION=basic(new.application.client_id, new.client_secret),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: dict | str) -> dict:
    value = token["access_token"] if isinstance(token, dict) else token
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


def issue_token(tenant, new, user, scopes: list[str]) -> str:
    """A token as the token endpoint would store it (for the scope x role matrix: the
    endpoint itself is covered end to end in test_oauth)."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    raw = secrets.token_urlsafe(30)
    with schema_context(tenant.schema_name):
        token = AccessToken(
            user=user, application=new.application, scope=" ".join(scopes),
            expires=timezone.now() + timedelta(hours=1),
        )  # fmt: skip
        set_token_value(token, raw)
        token.save()
    return raw


@pytest.fixture
def team_plan(tenant_a):
    """Room for the matrix's staff (the trial plan has five seats)."""
    from billing.models import Plan
    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant_a.pk).update(plan=Plan.objects.get(code="team"))


def stored_document(tenant, uploader, *, name="report.txt", content=b"hello", state="available"):
    """A document already scanned clean (or in ``state``), its bytes in storage."""
    import uuid

    from django.core.files.base import ContentFile

    from uploads import storage
    from uploads.models import Document

    with schema_context(tenant.schema_name):
        document_id = uuid.uuid4()
        key = storage.document_key(tenant.schema_name, document_id)
        storage.documents_storage().save(key, ContentFile(content))
        return Document.objects.create(
            id=document_id, name=name, size=len(content), content_type="text/plain",
            sha256=hashlib.sha256(content).hexdigest(), state=state, storage_key=key,
            uploaded_by=uploader,
        )  # fmt: skip
