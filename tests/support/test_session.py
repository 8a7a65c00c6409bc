"""During a support session: the principal, read-only enforced twice, no credentials, every
request recorded, and every way a session ends (with its cause audited)."""

import pytest
from django.core.exceptions import PermissionDenied
from django_tenants.utils import schema_context

from accounts.models import WorkspacePolicy
from accounts.services import workspace_policy_update
from core.errors import ReadOnlyError
from core.principal import Actor
from core.principal import SupportSession as SupportPrincipal
from support.models import SupportSession
from support.services import support_policy_update, support_session_end
from tests.accounts.helpers import audit_mark, events_since

from .conftest import consent, handed_off_client, start


def _ended(row, cause):
    row.refresh_from_db()
    assert (row.active, row.end_cause) == (False, cause)


def _end_events(tenant, mark):
    return [e.changes["cause"] for e in events_since(tenant, mark, "support.session_ended")]


@pytest.fixture
def read_only(vendor, tenant_a, owner_a):
    consent(tenant_a, "read_only")
    row = start(vendor, tenant_a, owner_a)
    return row, handed_off_client(vendor, tenant_a, row)


@pytest.fixture
def read_write(vendor, tenant_a, owner_a):
    consent(tenant_a, "read_write")
    row = start(vendor, tenant_a, owner_a, mode="read_write")
    return row, handed_off_client(vendor, tenant_a, row)


def test_a_write_in_read_only_mode_is_refused_by_the_middleware(read_only, tenant_a):
    _row, client = read_only
    response = client.post("/settings/security/", {"require_2fa": "on"})
    assert response.status_code == 403 and b"read-only" in response.content
    with schema_context(tenant_a.schema_name):
        assert not WorkspacePolicy.objects.get().require_2fa


def test_every_write_service_refuses_the_read_only_principal_too(tenant_a, owner_a):
    # The second layer, without the middleware (tests/test_principal.py covers every one).
    principal = SupportPrincipal(user=owner_a, vendor=Actor("vendor", "1", "a@v.test"))
    with schema_context(tenant_a.schema_name), pytest.raises(ReadOnlyError):
        workspace_policy_update(actor=principal, require_2fa=True)


def test_read_write_mode_writes_as_the_user_with_the_vendor_as_impersonator(
    read_write, tenant_a, owner_a, vendor
):
    _row, client = read_write
    mark = audit_mark()
    assert client.post("/settings/security/", {"require_2fa": "on"}).status_code == 302
    (changed,) = events_since(tenant_a, mark, "workspace.policy_changed")
    assert (changed.actor_id, changed.impersonator_id) == (str(owner_a.pk), str(vendor.pk))


@pytest.mark.parametrize(
    "path",
    [
        "/account/password/",
        "/account/email/",
        "/account/2fa/setup/",
        "/api/v1/me",  # the API, OAuth consent, apps and grants (the api package's)
        "/o/authorize/",
        "/settings/integrations/",
        "/account/apps/",
        "/settings/exports/",  # workspace exports (the offboarding package's)
        "/audit/export.csv",
    ],
)
def test_nothing_that_makes_credentials_is_reachable_even_read_write(read_write, path):
    _row, client = read_write
    assert client.get(path).status_code == 403
    assert client.post(path, {}).status_code == 403


def test_consent_cannot_be_changed_from_inside_a_session(read_write, tenant_a, owner_a):
    _row, client = read_write
    assert client.get("/settings/support/").status_code == 403
    principal = SupportPrincipal(
        user=owner_a, vendor=Actor("vendor", "1", "a@v.test"), mode="read_write"
    )
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        support_policy_update(actor=principal, mode="read_write")


def test_every_request_is_recorded_in_the_workspace_chain(read_only, tenant_a, owner_a, vendor):
    _row, client = read_only
    mark = audit_mark()
    client.get("/documents/?q=secret")
    client.post("/settings/security/", {})
    first, second = events_since(tenant_a, mark, "support.request_served")
    assert (first.actor_id, first.impersonator_id) == (str(owner_a.pk), str(vendor.pk))
    assert first.changes == {"method": "GET", "path": "/documents/", "status": 200}
    assert (second.changes["method"], second.changes["status"]) == ("POST", 403)


def test_consent_withdrawn_mid_session_ends_it_at_the_next_request(read_only, tenant_a, owner_a):
    row, client = read_only
    mark = audit_mark()
    with schema_context(tenant_a.schema_name):
        support_policy_update(actor=owner_a, mode="off")
    response = client.get("/documents/")
    assert response.status_code == 302 and "/support/ended/" in response["Location"]
    _ended(row, "consent_withdrawn")
    assert _end_events(tenant_a, mark) == ["consent_withdrawn"]
    assert client.get("/documents/").status_code == 302  # signed out: to the sign-in page
    assert "/accounts/login/" in client.get("/documents/")["Location"]


def test_consent_lapsing_by_its_date_ends_the_session(vendor, tenant_a, owner_a, clock):
    clock.now = clock.now.replace(hour=23, minute=50)  # UTC: ten minutes before the date ends
    consent(tenant_a, "read_only", until=clock.now.date())
    row = start(vendor, tenant_a, owner_a)
    client = handed_off_client(vendor, tenant_a, row)
    assert client.get("/").status_code == 200
    clock.advance(minutes=11)
    assert "/support/ended/" in client.get("/")["Location"]
    _ended(row, "consent_withdrawn")


def test_the_thirty_minute_idle_limit(vendor, tenant_a, owner_a, clock):
    consent(tenant_a, "read_only")
    row = start(vendor, tenant_a, owner_a)
    client = handed_off_client(vendor, tenant_a, row)
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200  # and the idle clock restarts
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    mark = audit_mark()
    clock.advance(minutes=30, seconds=1)
    assert "/support/ended/" in client.get("/")["Location"]
    _ended(row, "idle")
    assert _end_events(tenant_a, mark) == ["idle"]


def test_the_two_hour_limit_even_when_active(vendor, tenant_a, owner_a, clock):
    consent(tenant_a, "read_only")
    row = start(vendor, tenant_a, owner_a)
    client = handed_off_client(vendor, tenant_a, row)
    for _step in range(4):  # active every 25 minutes: never idle
        clock.advance(minutes=25)
        assert client.get("/").status_code == 200
    mark = audit_mark()
    clock.advance(minutes=25)  # 125 minutes after the start, 25 after the last request
    assert "/support/ended/" in client.get("/")["Location"]
    _ended(row, "expired")
    assert _end_events(tenant_a, mark) == ["expired"]


def test_end_now_from_the_banner_even_read_only(read_only, tenant_a):
    row, client = read_only
    mark = audit_mark()
    response = client.post("/support/end/")
    assert response.status_code == 302 and "cause=vendor" in response["Location"]
    _ended(row, "vendor")
    assert _end_events(tenant_a, mark) == ["vendor"]
    assert "/accounts/login/" in client.get("/")["Location"]


def test_a_workspace_admin_sees_and_ends_a_session(read_only, tenant_a, owner_client_a):
    row, client = read_only
    page = owner_client_a.get("/settings/support/")
    assert page.status_code == 200 and row.vendor_email.encode() in page.content
    assert owner_client_a.post(f"/settings/support/{row.pk}/end/").status_code == 302
    _ended(row, "workspace_admin")
    assert "/support/ended/" in client.get("/")["Location"]


def test_a_member_cannot_end_or_see_support_sessions(read_only, tenant_a, member_a):
    row, _client = read_only
    with schema_context(tenant_a.schema_name), pytest.raises(PermissionDenied):
        support_session_end(actor=member_a, session_id=str(row.pk))
    assert SupportSession.objects.get(pk=row.pk).active


def test_a_console_revocation_needs_the_admin_role(read_only, tenant_a, viewer, vendor_admin):
    row, client = read_only
    with pytest.raises(PermissionDenied):
        support_session_end(actor=viewer, session_id=str(row.pk))
    mark = audit_mark()
    support_session_end(actor=vendor_admin, session_id=str(row.pk))
    _ended(row, "revoked")
    assert _end_events(tenant_a, mark) == ["revoked"]
    assert "/support/ended/" in client.get("/")["Location"]


def test_a_deactivated_user_ends_the_session(read_only, tenant_a):
    row, client = read_only
    from accounts.models import User

    with schema_context(tenant_a.schema_name):
        User.objects.filter(pk=row.user_id).update(is_active=False)
    assert "/support/ended/" in client.get("/")["Location"]
    _ended(row, "user_unavailable")


def test_consent_changes_are_audited_and_owner_or_admin_only(tenant_a, owner_a, member_a):
    with schema_context(tenant_a.schema_name):
        mark = audit_mark()
        support_policy_update(actor=owner_a, mode="read_only")
        with pytest.raises(PermissionDenied):
            support_policy_update(actor=member_a, mode="read_write")
    (event,) = events_since(tenant_a, mark, "support.consent_changed")
    assert event.changes["mode"] == {"before": "off", "after": "read_only"}


def test_the_sweep_ends_abandoned_sessions_with_their_cause(vendor, tenant_a, owner_a, clock):
    from support.tasks import expire_sessions

    consent(tenant_a, "read_write")
    idle = start(vendor, tenant_a, owner_a)
    clock.advance(minutes=20)
    fresh = start(vendor, tenant_a, owner_a)
    clock.advance(minutes=11)  # the first is 31 minutes idle, the second 11
    mark = audit_mark()
    assert expire_sessions() == 1
    _ended(idle, "idle")
    fresh.refresh_from_db()
    assert fresh.active
    assert _end_events(tenant_a, mark) == ["idle"]
    assert events_since(tenant_a, mark, "support.session_ended")[0].actor_type == "system"


def test_the_workspace_audit_log_tells_the_story_in_sentences(read_only, owner_client_a, vendor):
    _row, client = read_only
    client.get("/documents/")
    client.post("/support/end/")
    page = owner_client_a.get("/audit/").content.decode()
    assert f"{vendor.email} opened a support session as" in page
    assert f"{vendor.email}, as" in page and "GET /documents/ (200)" in page
    assert "ended: ended by the vendor" in page


def test_the_workspaces_2fa_policy_does_not_send_the_vendor_to_set_up_a_factor(
    vendor, tenant_a, owner_a
):
    with schema_context(tenant_a.schema_name):
        WorkspacePolicy.objects.update(require_2fa=True)
    consent(tenant_a, "read_only")
    client = handed_off_client(vendor, tenant_a, start(vendor, tenant_a, owner_a))
    page = client.get("/documents/")
    assert page.status_code == 200 and b'id="support-banner"' in page.content


def test_sign_out_in_a_support_session_ends_it_and_is_no_sign_out_of_the_user(read_only, tenant_a):
    row, client = read_only
    mark = audit_mark()
    response = client.post("/accounts/logout/")
    assert "/support/ended/?cause=vendor" in response["Location"]
    _ended(row, "vendor")
    assert events_since(tenant_a, mark, "auth.logout") == []
    assert "/accounts/login/" in client.get("/")["Location"]
