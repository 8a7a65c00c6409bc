"""Staff management over HTTP: list and filters, roles, last owner, deactivation, CSRF."""

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User, UserSession
from billing.models import Plan
from tests.conftest import client_for, sign_in

from .helpers import actions_since, audit_mark, events_since, make_user


def user_pk(tenant, email: str) -> int:
    with schema_context(tenant.schema_name):
        return User.objects.get(email=email).pk


def reload(tenant, user) -> User:
    with schema_context(tenant.schema_name):
        return User.objects.get(pk=user.pk)


def test_staff_list_search_and_filters(tenant_a, admin_client_a, member_a):
    make_user(tenant_a, "zed@alpha.test", role="readonly", full_name="Zed Reader")
    make_user(tenant_a, "gone@alpha.test", is_active=False, full_name="Gone Person")
    page = admin_client_a.get("/staff/").content.decode()
    assert all(e in page for e in ["zed@alpha.test", "gone@alpha.test", "member@alpha.test"])
    page = admin_client_a.get("/staff/", {"q": "zed r"}).content.decode()
    page = admin_client_a.get("/staff/", {"q": "Reader"}).content.decode()
    assert "zed@alpha.test" in page and "member@alpha.test" not in page
    page = admin_client_a.get("/staff/", {"role": "readonly"}).content.decode()
    assert "zed@alpha.test" in page and "owner@alpha.test" not in page
    page = admin_client_a.get("/staff/", {"status": "deactivated"}).content.decode()
    assert "gone@alpha.test" in page and "zed@alpha.test" not in page


def test_members_cannot_see_staff_pages(member_client_a, owner_a):
    assert member_client_a.get("/staff/").status_code == 403
    assert member_client_a.get(f"/staff/{owner_a.pk}/").status_code == 403
    assert member_client_a.post(f"/staff/{owner_a.pk}/deactivate/").status_code == 403
    assert member_client_a.get("/settings/security/").status_code == 403


def test_admin_changes_a_role_and_it_is_audited(tenant_a, admin_client_a, member_a):
    mark = audit_mark()
    admin_client_a.post(f"/staff/{member_a.pk}/role/", {"role": "readonly"})
    assert reload(tenant_a, member_a).role == "readonly"
    [event] = events_since(tenant_a, mark, "staff.role_changed")
    assert event.changes == {"role": ["member", "readonly"]}
    assert event.target_id == str(member_a.pk)


def test_admins_cannot_touch_owners_or_make_owners(tenant_a, admin_client_a, owner_a, member_a):
    mark = audit_mark()
    assert admin_client_a.post(f"/staff/{owner_a.pk}/role/", {"role": "member"}).status_code == 403
    assert admin_client_a.post(f"/staff/{owner_a.pk}/deactivate/").status_code == 403
    page = admin_client_a.get(f"/staff/{member_a.pk}/").content.decode()
    assert 'value="admin"' in page and 'value="owner"' not in page
    refused = admin_client_a.post(f"/staff/{member_a.pk}/role/", {"role": "owner"})
    assert refused.status_code == 200
    assert "You cannot give this role." in refused.content.decode()
    assert reload(tenant_a, owner_a).role == "owner" and reload(tenant_a, owner_a).is_active
    assert reload(tenant_a, member_a).role == "member"
    assert actions_since(tenant_a, mark) == []


def test_the_last_owner_cannot_be_demoted_or_deactivated(tenant_a, owner_a, owner_client_a):
    mark = audit_mark()
    response = owner_client_a.post(f"/staff/{owner_a.pk}/role/", {"role": "admin"}, follow=True)
    assert "at least one active owner" in response.content.decode()
    assert reload(tenant_a, owner_a).role == "owner"
    second = make_user(tenant_a, "second@alpha.test", role="owner")
    second_client = client_for(tenant_a)
    assert sign_in(second_client, second.email)
    response = second_client.post(f"/staff/{owner_a.pk}/deactivate/", follow=True)
    assert reload(tenant_a, owner_a).is_active is False
    # Now `second` is the only active owner.
    response = second_client.post(f"/staff/{second.pk}/role/", {"role": "admin"}, follow=True)
    assert "at least one active owner" in response.content.decode()
    assert reload(tenant_a, second).role == "owner"
    assert actions_since(tenant_a, mark) == ["auth.login", "staff.deactivated"]


def test_with_two_owners_one_may_step_down(tenant_a, owner_a, owner_client_a):
    make_user(tenant_a, "second@alpha.test", role="owner")
    owner_client_a.post(f"/staff/{owner_a.pk}/role/", {"role": "admin"})
    assert reload(tenant_a, owner_a).role == "admin"


def test_deactivation_ends_sessions_at_once_and_stops_sign_in(
    tenant_a, admin_client_a, member_a, member_client_a
):
    second_browser = client_for(tenant_a)
    assert sign_in(second_browser, member_a.email)
    assert member_client_a.get("/").status_code == 200
    with schema_context(tenant_a.schema_name):
        assert UserSession.objects.filter(user_id=member_a.pk).count() == 2
    mark = audit_mark()
    admin_client_a.post(f"/staff/{member_a.pk}/deactivate/")
    for browser in (member_client_a, second_browser):
        assert browser.get("/")["Location"].startswith("/accounts/login/")
    with schema_context(tenant_a.schema_name):
        assert UserSession.objects.filter(user_id=member_a.pk).count() == 0
    [event] = events_since(tenant_a, mark, "staff.deactivated")
    assert event.changes["sessions_ended"] == 2
    assert not sign_in(client_for(tenant_a), member_a.email)
    # Reactivated, they can sign in again.
    admin_client_a.post(f"/staff/{member_a.pk}/reactivate/")
    assert sign_in(client_for(tenant_a), member_a.email)
    assert actions_since(tenant_a, mark) == [
        "staff.deactivated",
        "auth.login_failed",  # the deactivated member's attempt
        "staff.reactivated",
        "auth.login",
    ]


def test_reactivation_respects_the_seat_limit(tenant_a, admin_client_a):
    gone = make_user(tenant_a, "gone@alpha.test", is_active=False)
    with schema_context(tenant_a.schema_name):
        active = User.objects.filter(is_active=True).count()
    Plan.objects.filter(pk=tenant_a.plan_id).update(max_staff=active)
    response = admin_client_a.post(f"/staff/{gone.pk}/reactivate/", follow=True)
    assert "upgrade the plan" in response.content.decode()
    assert reload(tenant_a, gone).is_active is False


def test_nobody_deactivates_themselves(tenant_a, admin_client_a, admin_a):
    response = admin_client_a.post(f"/staff/{admin_a.pk}/deactivate/", follow=True)
    assert "cannot deactivate your own account" in response.content.decode()
    assert reload(tenant_a, admin_a).is_active


def test_missing_csrf_token_is_refused_and_changes_nothing(tenant_a, admin_client_a, member_a):
    browser = Client(HTTP_HOST=f"{tenant_a.slug}.localhost", enforce_csrf_checks=True)
    browser.cookies = admin_client_a.cookies  # signed in as the admin, but no CSRF token sent
    mark = audit_mark()
    response = browser.post(f"/staff/{member_a.pk}/role/", {"role": "readonly"})
    assert response.status_code == 403
    assert "security token" in response.content.decode()
    assert reload(tenant_a, member_a).role == "member"
    assert actions_since(tenant_a, mark) == []


def test_unknown_role_is_refused(tenant_a, admin_client_a, member_a):
    response = admin_client_a.post(f"/staff/{member_a.pk}/role/", {"role": "god"}, follow=True)
    assert "You cannot give this role." in response.content.decode()
    assert reload(tenant_a, member_a).role == "member"


@pytest.mark.parametrize("role", ["member", "readonly"])
def test_permissions_module(tenant_a, role):
    from accounts import permissions

    user = make_user(tenant_a, f"{role}@alpha.test", role=role)
    assert not permissions.can_manage_staff(user)
    assert not permissions.can_manage_owners(user)
    assert permissions.can_write(user) is (role == "member")


def test_every_account_page_renders_for_an_owner(owner_client_a, member_a):
    for path in [
        "/", "/staff/", "/staff/invite/", f"/staff/{member_a.pk}/", "/settings/security/",
        "/account/", "/account/password/", "/account/email/", "/account/2fa/",
        "/account/2fa/setup/", "/account/sessions/",
    ]:  # fmt: skip
        response = owner_client_a.get(path)
        assert response.status_code == 200, path
        assert b'href="/staff/"' in response.content  # navigation for managers


def test_pages_render_in_german(tenant_a, member_client_a):
    response = member_client_a.get("/account/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200
    assert response["Content-Language"] == "de"
