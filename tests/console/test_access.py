"""Who reaches the console: vendor staff on the public host, with a second factor,
within the session limits. Never a workspace user."""

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

import console.session as console_session
from accounts.models import User
from tests.audit.helpers import capture_audit
from tests.conftest import PASSWORD, WORKSPACES, client_for

from .conftest import code_for, console_client, make_vendor, sign_in_vendor


@pytest.mark.django_db
def test_create_vendor_staff_command_is_audited_as_the_system(monkeypatch):
    monkeypatch.setenv("CONSOLE_STAFF_PASSWORD", "Vendor-pass-word-42")
    with capture_audit() as events:
        call_command(
            "create_vendor_staff", "--email", "Ops@Vendor.test", "--role", "admin", "--noinput"
        )
    user = User.objects.get(email="ops@vendor.test")
    assert user.is_staff and user.vendor_role == "admin"
    assert events.actions == ["vendor_staff.created", "console.staff_created"]
    assert {(e.chain, e.actor_type) for e in events} == {("", "system")}
    assert events[1].changes == {"role": "admin"}


@pytest.mark.django_db
def test_create_vendor_staff_refuses_an_unknown_role_and_a_weak_password(monkeypatch):
    monkeypatch.setenv("CONSOLE_STAFF_PASSWORD", "Vendor-pass-word-42")
    with pytest.raises(CommandError):
        call_command(
            "create_vendor_staff", "--email", "a@vendor.test", "--role", "god", "--noinput"
        )
    monkeypatch.setenv("CONSOLE_STAFF_PASSWORD", "123")
    with capture_audit() as events, pytest.raises(CommandError):
        call_command(
            "create_vendor_staff", "--email", "b@vendor.test", "--role", "viewer", "--noinput"
        )
    assert events == [] and not User.objects.filter(email__endswith="@vendor.test").exists()


@pytest.mark.django_db
def test_first_sign_in_forces_two_factor_enrolment():
    user = make_vendor("viewer", two_factor=False)
    client = console_client()
    response = client.post("/console/login/", {"username": user.email, "password": PASSWORD})
    assert response["Location"] == "/console/login/enrol/"
    # Not signed in yet: the console sends the browser back to sign-in.
    assert client.get("/console/")["Location"] == "/console/login/"
    page = client.get("/console/login/enrol/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post("/console/login/enrol/", {"code": code_for(device)})
    assert response["Location"] == "/console/login/recovery-codes/"
    codes = client.get("/console/login/recovery-codes/")
    assert codes.status_code == 200 and b"recovery-codes" in codes.content
    assert client.get("/console/").status_code == 200
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1


@pytest.mark.django_db
def test_wrong_second_factor_codes_lock_the_sign_in_out():
    user = make_vendor("viewer")
    client = console_client()
    client.post("/console/login/", {"username": user.email, "password": PASSWORD})
    statuses = [
        client.post("/console/login/verify/", {"code": "123456"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200
    assert client.get("/console/")["Location"] == "/console/login/"


@pytest.mark.django_db
def test_password_alone_never_opens_the_console():
    user = make_vendor("admin")
    client = console_client()
    client.post("/console/login/", {"username": user.email, "password": PASSWORD})
    for path in ("/console/", "/console/staff/", "/console/sessions/"):
        assert client.get(path)["Location"] == "/console/login/"


@pytest.mark.django_db
def test_a_workspace_user_never_reaches_a_console_url(owner_client_a, tenant_a):
    # On a workspace host the console does not exist.
    for path in ("/console/", "/console/login/", f"/console/w/{tenant_a.pk}/"):
        assert owner_client_a.get(path).status_code == 404
    # A workspace's credentials mean nothing on the public site.
    client = console_client()
    response = client.post(
        "/console/login/", {"username": WORKSPACES["alpha"]["owner_email"], "password": PASSWORD}
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert client.get("/console/")["Location"] == "/console/login/"


@pytest.mark.django_db
def test_a_console_session_cookie_is_worthless_on_a_workspace_host(vendor_factory, tenant_a):
    _user, client = vendor_factory("admin", real_sign_in=True)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    workspace = client_for(tenant_a)
    workspace.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert workspace.get("/console/").status_code == 404
    assert workspace.get("/")["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_session_ends_after_30_minutes_idle(vendor_factory, monkeypatch):
    _user, client = vendor_factory("viewer", real_sign_in=True)
    clock = [console_session.now()]
    monkeypatch.setattr(console_session, "now", lambda: clock[0])
    clock[0] += 29 * 60
    assert client.get("/console/").status_code == 200  # activity: the idle clock restarts
    clock[0] += 29 * 60
    assert client.get("/console/").status_code == 200
    clock[0] += 30 * 60
    response = client.get("/console/")
    assert response["Location"] == "/console/login/"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_session_ends_after_12_hours_however_active(vendor_factory, monkeypatch):
    _user, client = vendor_factory("viewer", real_sign_in=True)
    clock = [console_session.now()]
    monkeypatch.setattr(console_session, "now", lambda: clock[0])
    started = client.session[console_session.STARTED_KEY]
    for _ in range(30):  # a request every 29 minutes: never idle
        clock[0] += 29 * 60
        if clock[0] - started >= 12 * 3600:
            break
        assert client.get("/console/").status_code == 200
    assert clock[0] - started < 12 * 3600 + 29 * 60
    assert client.get("/console/")["Location"] == "/console/login/"


@pytest.mark.django_db
def test_a_vendor_sees_and_ends_their_own_sessions(db):
    user = make_vendor("viewer")
    first, second = console_client(), console_client()
    sign_in_vendor(first, user)
    # The replay guard refuses the same code twice: the second browser uses the next one.
    device = TOTPDevice.objects.get(user=user)
    second.post("/console/login/", {"username": user.email, "password": PASSWORD})
    response = second.post("/console/login/verify/", {"code": code_for(device, offset=1)})
    assert response["Location"] == "/console/"
    page = first.get("/console/sessions/")
    rows = list(page.context["sessions"])
    assert len(rows) == 2
    other = next(r for r in rows if r.session_key != first.session.session_key)
    with capture_audit() as events:
        first.post(f"/console/sessions/{other.pk}/revoke/")
    assert events.actions == ["session.revoked"] and events[0].chain == ""
    assert second.get("/console/")["Location"] == "/console/login/"
    assert first.get("/console/").status_code == 200


@pytest.mark.django_db
def test_roles_gate_the_pages(vendor_factory, tenant_a):
    _viewer, client = vendor_factory("viewer")
    assert client.get("/console/staff/").status_code == 403
    response = client.post(f"/console/w/{tenant_a.pk}/suspend/", {"reason": "abuse"})
    assert response.status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.state == "active"
