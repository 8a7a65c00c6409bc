"""Error pages with DEBUG off: the site's layout, the user's language, a way back."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory, override_settings
from django.urls import get_resolver
from django.utils import translation
from django_tenants.utils import schema_context

from core import error_pages
from core.errors import ReadOnlyError
from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in
from uploads.models import Document

pytestmark = pytest.mark.usefixtures("_production_errors")


@pytest.fixture
def _production_errors():
    with override_settings(DEBUG=False):
        yield


def quiet(client: Client) -> Client:
    """A client that gets the 500 page instead of the view's exception."""
    client.raise_request_exception = False
    return client


def page_of(response) -> str:
    return response.content.decode()


def assert_branded(response, status: int, *texts: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = page_of(response)
    assert '<header class="bar">' in html and "<main" in html, html[:300]
    for text in texts:
        assert text in html, (text, html)
    return html


def test_404_on_a_workspace_is_in_its_layout_with_a_way_home(owner_client_a, tenant_a):
    html = assert_branded(owner_client_a.get("/no/such/page/"), 404, "Page not found")
    assert tenant_a.name in html  # the workspace's layout and navigation
    assert 'href="/"' in html
    assert "Go to your workspace's home page" in html


def test_404_speaks_the_users_language(owner_client_a, owner_a, tenant_a):
    with schema_context(tenant_a.schema_name):
        owner_a.language = "de"
        owner_a.save(update_fields=["language"])
    assert_branded(owner_client_a.get("/no/such/page/"), 404, "Seite nicht gefunden")


def test_404_for_a_visitor_in_german_offers_sign_in(client_a):
    response = client_a.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="de")
    assert_branded(response, 404, "Seite nicht gefunden", "Zur Anmeldung")


def test_403_for_a_member_on_an_admin_page(tenant_a):
    make_user(tenant_a, "member@alpha.test", role="member")
    client = client_for(tenant_a)
    assert sign_in(client, "member@alpha.test")
    assert_branded(client.get("/staff/"), 403, "Access denied", "You do not have permission")


def test_403_shows_a_read_only_sessions_own_message():
    request = RequestFactory().get("/", HTTP_HOST="alpha.localhost")
    with translation.override("en"):
        response = error_pages.permission_denied(request, ReadOnlyError())
        plain = error_pages.permission_denied(request, PermissionDenied("internal detail"))
    assert response.status_code == 403
    assert "This session is read-only" in page_of(response)
    assert "internal detail" not in page_of(plain)


def test_both_urlconfs_name_the_handlers():
    for urlconf in ("config.urls_tenant", "config.urls_public"):
        resolver = get_resolver(urlconf)
        for status in (400, 403, 404, 500):
            handler = resolver.resolve_error_handler(status)
            assert handler.__module__ in ("core.error_pages", "signup.views"), (urlconf, status)


def test_405_keeps_allow_and_is_a_page(owner_client_a):
    response = owner_client_a.get("/account/sessions/revoke-others/")
    html = assert_branded(response, 405, "Not possible here")
    assert response["Allow"] == "POST"
    assert "use the page&#x27;s own buttons" in html


def test_400_from_a_malformed_request(owner_client_a):
    fields = {f"f{i}": "x" for i in range(1100)}  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    assert_branded(owner_client_a.post("/account/", fields), 400, "Bad request")


def test_413_when_a_form_body_is_too_large(owner_client_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = owner_client_a.post("/account/", {"full_name": "x" * 4096})
    assert_branded(response, 413, "Too large")


def test_409_for_a_blocked_download_is_a_page_and_problem_json(owner_client_a, owner_a, tenant_a):
    with schema_context(tenant_a.schema_name):
        document = Document.objects.create(
            name="bad.exe", size=1, content_type="application/octet-stream", sha256="0",
            uploaded_by=owner_a, state=Document.State.BLOCKED,
        )  # fmt: skip
    url = f"/documents/{document.pk}/download/"
    assert_branded(
        owner_client_a.get(url), 409, "This document is not available for download.", "Documents"
    )
    problem = owner_client_a.get(url, HTTP_ACCEPT="application/json")
    assert problem.status_code == 409
    assert problem["Content-Type"] == "application/problem+json"
    assert problem.json()["status"] == 409
    assert problem.json()["detail"] == "This document is not available for download."


def test_429_is_a_page(client_a, settings):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "password_reset": (1, 60)}
    from django.core.cache import cache

    cache.clear()
    client_a.post("/accounts/password-reset/", {"email": "a@b.test"})
    response = client_a.post("/accounts/password-reset/", {"email": "a@b.test"})
    assert_branded(response, 429, "Too many attempts")


def test_500_is_a_page_with_a_reference(owner_client_a, monkeypatch):
    from uploads import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "upload_limits", broken)
    response = quiet(owner_client_a).get("/documents/", HTTP_X_REQUEST_ID="req-12345678")
    html = assert_branded(response, 500, "Something went wrong", "Reference: req-12345678")
    assert "boom" not in html


def test_public_host_errors_use_the_public_layout(public_client):
    html = assert_branded(public_client.get("/nothing-here/"), 404)
    assert "Find my workspace" in html
    response = public_client.put("/find-workspace/")
    assert_branded(response, 405, "Not possible here")


def test_unknown_workspace_host_is_the_public_404(db, settings):
    response = Client(HTTP_HOST=f"nobody-here.{settings.BASE_DOMAIN}").get("/")
    assert_branded(response, 404, "There is nothing here")
