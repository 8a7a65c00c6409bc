"""Two-factor authentication, workspace 2FA policy, lockouts and unlocking."""

import re

import pytest
from django.test import override_settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context

from accounts.models import WorkspacePolicy
from tests.conftest import PASSWORD, client_for, sign_in

from .helpers import actions_since, audit_mark, current_totp, events_since, make_user


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    """django-otp delays retries after a wrong code; tests that mix wrong and right codes
    switch that off (``test_wrong_codes_throttle_the_device`` checks it is on by default)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def enable_2fa(tenant, client, user) -> list[str]:
    """Turn 2FA on through the pages; returns the recovery codes shown."""
    page = client.get("/account/2fa/setup/")
    assert page.status_code == 200
    response = client.post("/account/2fa/setup/", {"code": current_totp(tenant, user)}, follow=True)
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", response.content.decode())
    assert len(codes) == 10, response.content.decode()
    return codes


def password_step(tenant, email: str):
    client = client_for(tenant)
    response = client.post("/accounts/login/", {"username": email, "password": PASSWORD})
    return client, response


def test_setup_shows_an_inline_qr_code_and_wrong_codes_change_nothing(
    tenant_a, member_a, member_client_a
):
    page = member_client_a.get("/account/2fa/setup/").content.decode()
    assert "<svg" in page and "<img" not in page
    assert re.search(r'id="totp-secret">[A-Z2-7 ]{20,}<', page)
    mark = audit_mark()
    response = member_client_a.post("/account/2fa/setup/", {"code": "000000"})
    assert "That code is not valid" in response.content.decode()
    with schema_context(tenant_a.schema_name):
        assert not TOTPDevice.objects.filter(user_id=member_a.pk, confirmed=True).exists()
    assert actions_since(tenant_a, mark) == []
    enable_2fa(tenant_a, member_client_a, member_a)
    assert actions_since(tenant_a, mark) == ["user.2fa_enabled"]


def test_sign_in_asks_the_second_factor_after_the_password(tenant_a, member_a, member_client_a):
    enable_2fa(tenant_a, member_client_a, member_a)
    client, response = password_step(tenant_a, member_a.email)
    assert response["Location"] == "/accounts/login/verify/"
    assert client.get("/")["Location"].startswith("/accounts/login/")  # not signed in yet
    wrong = client.post("/accounts/login/verify/", {"code": "123456"})
    assert "That code is not valid" in wrong.content.decode()
    assert client.get("/")["Location"].startswith("/accounts/login/")
    # The setup used this period's code; the next period's is still accepted.
    ok = client.post("/accounts/login/verify/", {"code": current_totp(tenant_a, member_a, 1)})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200
    # The same TOTP code cannot be replayed for another sign-in.
    replay, _ = password_step(tenant_a, member_a.email)
    again = replay.post("/accounts/login/verify/", {"code": current_totp(tenant_a, member_a, 1)})
    assert again.status_code == 200 and "That code is not valid" in again.content.decode()


def test_wrong_codes_throttle_the_device(tenant_a, member_a, member_client_a, settings):
    enable_2fa(tenant_a, member_client_a, member_a)
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    settings.OTP_STATIC_THROTTLE_FACTOR = 1
    client, _ = password_step(tenant_a, member_a.email)
    client.post("/accounts/login/verify/", {"code": "000000"})
    # Right after a failure even the right code waits: guessing cannot go fast.
    response = client.post("/accounts/login/verify/", {"code": current_totp(tenant_a, member_a, 1)})
    assert response.status_code == 200
    assert client.get("/").status_code == 302


def test_recovery_codes_work_once(tenant_a, member_a, member_client_a):
    codes = enable_2fa(tenant_a, member_client_a, member_a)
    client, _ = password_step(tenant_a, member_a.email)
    mark = audit_mark()
    assert client.post("/accounts/login/verify/", {"code": codes[0]}).status_code == 302
    [event] = events_since(tenant_a, mark, "user.recovery_code_used")
    assert event.changes == {"codes_left": 9}
    reused, _ = password_step(tenant_a, member_a.email)
    response = reused.post("/accounts/login/verify/", {"code": codes[0]})
    assert "That code is not valid" in response.content.decode()
    assert reused.get("/").status_code == 302
    with schema_context(tenant_a.schema_name):
        assert StaticToken.objects.filter(device__user_id=member_a.pk).count() == 9


def test_regenerating_recovery_codes_kills_the_old_ones(tenant_a, member_a, member_client_a):
    old = enable_2fa(tenant_a, member_client_a, member_a)
    mark = audit_mark()
    page = member_client_a.post(
        "/account/2fa/recovery-codes/", {"regenerate-password_or_code": PASSWORD}, follow=True
    ).content.decode()
    new = re.findall(r"<li><code>([a-z0-9]+)</code></li>", page)
    assert len(new) == 10 and not set(new) & set(old)
    assert actions_since(tenant_a, mark) == ["user.recovery_codes_regenerated"]
    client, _ = password_step(tenant_a, member_a.email)
    assert client.post("/accounts/login/verify/", {"code": old[1]}).status_code == 200
    assert client.post("/accounts/login/verify/", {"code": new[1]}).status_code == 302


def test_regenerating_recovery_codes_needs_the_password_or_a_current_code(
    tenant_a, member_a, member_client_a
):
    old = enable_2fa(tenant_a, member_client_a, member_a)
    mark = audit_mark()
    for proof in ("", "wrong-password", "000000"):
        response = member_client_a.post(
            "/account/2fa/recovery-codes/", {"regenerate-password_or_code": proof}
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert not re.findall(r"<li><code>([a-z0-9]+)</code></li>", page)
        assert 'class="field invalid"' in page, proof
    assert actions_since(tenant_a, mark) == []
    with schema_context(tenant_a.schema_name):
        left = set(
            StaticToken.objects.filter(device__user_id=member_a.pk).values_list("token", flat=True)
        )
    assert left == set(old)
    # The next period's code from the app works (the setup spent this period's).
    page = member_client_a.post(
        "/account/2fa/recovery-codes/",
        {"regenerate-password_or_code": current_totp(tenant_a, member_a, 1)},
        follow=True,
    ).content.decode()
    assert len(re.findall(r"<li><code>([a-z0-9]+)</code></li>", page)) == 10
    assert actions_since(tenant_a, mark) == ["user.recovery_codes_regenerated"]


def test_disabling_2fa_needs_the_password(tenant_a, member_a, member_client_a):
    enable_2fa(tenant_a, member_client_a, member_a)
    mark = audit_mark()
    member_client_a.post("/account/2fa/disable/", {"password": "wrong-password"})
    with schema_context(tenant_a.schema_name):
        assert TOTPDevice.objects.filter(user_id=member_a.pk).exists()
    member_client_a.post("/account/2fa/disable/", {"password": PASSWORD})
    with schema_context(tenant_a.schema_name):
        assert not TOTPDevice.objects.filter(user_id=member_a.pk).exists()
    assert actions_since(tenant_a, mark) == ["user.2fa_disabled"]


def test_workspace_policy_leads_users_to_2fa_setup_first(
    tenant_a, admin_client_a, member_a, member_client_a, on_commit
):
    mark = audit_mark()
    with on_commit():
        admin_client_a.post("/settings/security/", {"require_2fa": "on"})
    [event] = events_since(tenant_a, mark, "workspace.policy_changed")
    assert event.changes == {"require_2fa": [False, True]}
    with schema_context(tenant_a.schema_name):
        assert WorkspacePolicy.objects.get(pk=1).require_2fa
    for path in ("/", "/account/", "/account/sessions/"):
        assert member_client_a.get(path)["Location"] == "/account/2fa/setup/"
    enable_2fa(tenant_a, member_client_a, member_a)
    assert member_client_a.get("/").status_code == 200
    # 2FA cannot be turned off while the workspace requires it.
    member_client_a.post("/account/2fa/disable/", {"password": PASSWORD})
    with schema_context(tenant_a.schema_name):
        assert TOTPDevice.objects.filter(user_id=member_a.pk, confirmed=True).exists()


def test_members_cannot_change_the_policy(tenant_a, member_client_a):
    assert member_client_a.post("/settings/security/", {"require_2fa": "on"}).status_code == 403
    with schema_context(tenant_a.schema_name):
        assert not WorkspacePolicy.objects.get(pk=1).require_2fa


@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_after_failed_sign_ins_without_revealing_the_account(
    tenant_a, member_a, admin_client_a
):
    mark = audit_mark()
    pages = {}
    for email in (member_a.email, "nobody@alpha.test"):
        client = client_for(tenant_a)
        codes = [
            client.post("/accounts/login/", {"username": email, "password": "bad"}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 429, 429]
        pages[email] = client.post(
            "/accounts/login/", {"username": email, "password": "bad"}
        ).content.decode()
    assert pages[member_a.email] == pages["nobody@alpha.test"]
    assert "Too many failed sign-in attempts" in pages[member_a.email]
    # Locked out, the right password does not get in either.
    assert not sign_in(client_for(tenant_a), member_a.email)
    lockouts = events_since(tenant_a, mark, "auth.lockout")
    assert {e.changes["username"] for e in lockouts} == {member_a.email, "nobody@alpha.test"}
    # An admin unlocks the member; the list showed them as locked.
    assert "Locked out" in admin_client_a.get("/staff/", {"status": "locked"}).content.decode()
    assert "Unlock sign-in" in admin_client_a.get(f"/staff/{member_a.pk}/").content.decode()
    mark = audit_mark()
    admin_client_a.post(f"/staff/{member_a.pk}/unlock/")
    assert actions_since(tenant_a, mark) == ["auth.unlocked"]
    assert "Unlock sign-in" not in admin_client_a.get(f"/staff/{member_a.pk}/").content.decode()
    assert sign_in(client_for(tenant_a), member_a.email)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_second_factor_codes_count_towards_the_lockout(tenant_a, member_a, member_client_a):
    enable_2fa(tenant_a, member_client_a, member_a)
    client, _ = password_step(tenant_a, member_a.email)
    statuses = [
        client.post("/accounts/login/verify/", {"code": "000000"}).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    # The pending sign-in is gone: even the right code needs the password again.
    right = client.post("/accounts/login/verify/", {"code": current_totp(tenant_a, member_a, 1)})
    assert right["Location"] == "/accounts/login/"


def test_locked_out_users_do_not_affect_other_workspaces(tenant_a, tenant_b):
    make_user(tenant_b, "shared@example.com")
    make_user(tenant_a, "shared@example.com")
    with override_settings(AXES_FAILURE_LIMIT=2):
        client = client_for(tenant_a)
        for _ in range(3):
            client.post("/accounts/login/", {"username": "shared@example.com", "password": "x"})
        assert not sign_in(client_for(tenant_a), "shared@example.com")
        assert sign_in(client_for(tenant_b), "shared@example.com")


def test_admin_resets_a_members_2fa(tenant_a, admin_client_a, member_a, member_client_a):
    enable_2fa(tenant_a, member_client_a, member_a)
    mark = audit_mark()
    admin_client_a.post(f"/staff/{member_a.pk}/reset_2fa/")
    with schema_context(tenant_a.schema_name):
        assert not TOTPDevice.objects.filter(user_id=member_a.pk).exists()
    [event] = events_since(tenant_a, mark, "user.2fa_disabled")
    assert event.changes["by_admin"] is True
    assert member_client_a.get("/")["Location"].startswith("/accounts/login/")
