"""Lifecycle actions and staff management: the role is checked in the service, a reason
is required, and each action is audited in the platform's and the workspace's chains."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

import console.services as console
from accounts.models import User
from core.principal import SYSTEM
from tenants.models import Tenant
from tests.audit.helpers import capture_audit

from .conftest import console_client, make_vendor

BLANK = ["", "   "]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("service", "role"),
    [
        (console.workspace_suspend, "support"),
        (console.workspace_reactivate, "support"),
        (console.workspace_freeze, "support"),
        (console.workspace_unfreeze, "support"),
    ],
)
def test_lifecycle_services_refuse_a_lower_role(service, role, tenant_a):
    viewer = make_vendor("viewer")
    with capture_audit() as events, pytest.raises(PermissionDenied):
        service(actor=viewer, tenant_id=tenant_a.pk, reason="because")
    assert events == []
    assert Tenant.objects.get(pk=tenant_a.pk).state == "active"


@pytest.mark.django_db
@pytest.mark.parametrize("reason", BLANK)
def test_every_lifecycle_action_needs_a_reason(reason, tenant_a):
    admin = make_vendor("admin")
    for service in (
        console.workspace_suspend,
        console.workspace_reactivate,
        console.workspace_freeze,
        console.workspace_unfreeze,
    ):
        with capture_audit() as events, pytest.raises(ValidationError) as error:
            service(actor=admin, tenant_id=tenant_a.pk, reason=reason)
        assert "reason" in error.value.message_dict and events == []
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.state == "active" and tenant.read_only_reasons == []


@pytest.mark.django_db
@pytest.mark.parametrize("reason", BLANK)
def test_every_staff_action_needs_a_reason(reason):
    admin = make_vendor("admin")
    other = make_vendor("support")
    calls = [
        lambda: console.vendor_staff_change_role(
            actor=admin, user_id=other.pk, role="billing", reason=reason
        ),
        lambda: console.vendor_staff_deactivate(actor=admin, user_id=other.pk, reason=reason),
        lambda: console.vendor_staff_reactivate(actor=admin, user_id=other.pk, reason=reason),
    ]
    for call in calls:
        with capture_audit() as events, pytest.raises(ValidationError):
            call()
        assert events == []
    other.refresh_from_db()
    assert other.vendor_role == "support" and other.is_active


@pytest.mark.django_db
def test_suspend_and_reactivate_are_audited_in_both_chains(tenant_a):
    support = make_vendor("support")
    with capture_audit() as events:
        console.workspace_suspend(actor=support, tenant_id=tenant_a.pk, reason="ticket 42")
    assert Tenant.objects.get(pk=tenant_a.pk).state == "suspended"
    assert sorted((e.chain, e.action) for e in events) == [
        ("", "console.workspace_suspended"),
        (tenant_a.schema_name, "tenant.suspended"),
    ]
    assert {e.actor_type for e in events} == {"vendor"}
    assert all(e.changes["reason"] == "ticket 42" for e in events)
    with capture_audit() as events:
        console.workspace_reactivate(actor=support, tenant_id=tenant_a.pk, reason="paid")
    assert Tenant.objects.get(pk=tenant_a.pk).state == "active"
    assert sorted(e.action for e in events) == ["console.workspace_reactivated", "tenant.activated"]


@pytest.mark.django_db
def test_reactivate_refuses_a_workspace_that_is_not_suspended(tenant_a):
    support = make_vendor("support")
    with pytest.raises(ValidationError):
        console.workspace_reactivate(actor=support, tenant_id=tenant_a.pk, reason="why not")


@pytest.mark.django_db
def test_freeze_makes_the_workspace_read_only_until_lifted(tenant_a):
    support = make_vendor("support")
    with capture_audit() as events:
        console.workspace_freeze(actor=support, tenant_id=tenant_a.pk, reason="legal hold")
    assert Tenant.objects.get(pk=tenant_a.pk).read_only_reasons == ["vendor_freeze"]
    chains = {(e.chain, e.action) for e in events}
    assert ("", "console.workspace_frozen") in chains
    assert (tenant_a.schema_name, "tenant.access_restricted") in chains
    with pytest.raises(ValidationError):
        console.workspace_freeze(actor=support, tenant_id=tenant_a.pk, reason="again")
    console.workspace_unfreeze(actor=support, tenant_id=tenant_a.pk, reason="hold released")
    assert Tenant.objects.get(pk=tenant_a.pk).read_only_reasons == []
    with pytest.raises(ValidationError):
        console.workspace_unfreeze(actor=support, tenant_id=tenant_a.pk, reason="again")


@pytest.mark.django_db
def test_workspace_actions_from_the_page(vendor_factory, tenant_a):
    _support, client = vendor_factory("support")
    page = client.get(f"/console/w/{tenant_a.pk}/")
    assert b"/suspend/" in page.content and b"/freeze/" in page.content
    # No reason: refused, nothing changes.
    client.post(f"/console/w/{tenant_a.pk}/suspend/", {"reason": " "})
    assert Tenant.objects.get(pk=tenant_a.pk).state == "active"
    client.post(f"/console/w/{tenant_a.pk}/suspend/", {"reason": "abuse report 7"})
    assert Tenant.objects.get(pk=tenant_a.pk).state == "suspended"
    page = client.get(f"/console/w/{tenant_a.pk}/")
    client.post(f"/console/w/{tenant_a.pk}/freeze/", {"reason": "legal hold"})
    page = client.get(f"/console/w/{tenant_a.pk}/")
    assert b"vendor_freeze" in page.content and b"/unfreeze/" in page.content
    history = page.context["history"]
    # Newest first (older events of the chain, committed by other tests, may follow).
    assert [e.action for e in history][:2] == ["tenant.access_restricted", "tenant.suspended"]
    assert b"abuse report 7" in page.content and b"legal hold" in page.content
    assert b"/reactivate/" in page.content


@pytest.mark.django_db
def test_staff_services_need_the_admin_role():
    support = make_vendor("support")
    other = make_vendor("viewer")
    with pytest.raises(PermissionDenied):
        console.vendor_staff_invite(actor=support, email="new@vendor.test", role="viewer")
    with pytest.raises(PermissionDenied):
        console.vendor_staff_change_role(
            actor=support, user_id=other.pk, role="admin", reason="promotion"
        )
    with pytest.raises(PermissionDenied):
        console.vendor_staff_deactivate(actor=support, user_id=other.pk, reason="left")
    assert not User.objects.filter(email="new@vendor.test").exists()


@pytest.mark.django_db
def test_the_last_active_admin_stays(db):
    admin = make_vendor("admin")
    User.objects.filter(is_staff=True, vendor_role="admin").exclude(pk=admin.pk).update(
        is_active=False
    )
    with pytest.raises(ValidationError):
        console.vendor_staff_change_role(
            actor=SYSTEM, user_id=admin.pk, role="viewer", reason="oops"
        )
    with pytest.raises(ValidationError):
        console.vendor_staff_deactivate(actor=SYSTEM, user_id=admin.pk, reason="oops")


@pytest.mark.django_db
def test_invite_accept_and_first_sign_in(vendor_factory, django_capture_on_commit_callbacks):
    admin, client = vendor_factory("admin")
    colleague = make_vendor("viewer")
    page = client.get("/console/staff/")
    assert page.status_code == 200
    assert f"/console/staff/{colleague.pk}/deactivate/".encode() in page.content
    assert f"/console/staff/{admin.pk}/".encode() not in page.content  # not oneself
    with django_capture_on_commit_callbacks(execute=True), capture_audit() as events:
        response = client.post(
            "/console/staff/", {"email": "New@Vendor.test", "role": "support", "full_name": ""}
        )
    assert response.status_code == 302
    assert "console.staff_invited" in events.actions
    invited = User.objects.get(email="new@vendor.test")
    assert invited.vendor_role == "support" and not invited.has_usable_password()
    (message,) = mail.outbox
    link = next(line for line in message.body.splitlines() if "/console/invite/" in line)
    path = link[link.index("/console/") :]
    stranger = console_client()
    assert stranger.post(path, {"password1": "x", "password2": "x"}).status_code == 200
    response = stranger.post(
        path, {"password1": "Fresh-pass-word-77", "password2": "Fresh-pass-word-77"}
    )
    assert response["Location"] == "/console/login/"
    assert stranger.get(path).status_code == 400  # single use
    # The person has an account now: inviting them again is refused.
    with pytest.raises(ValidationError):
        console.vendor_staff_invite(actor=admin, email="new@vendor.test", role="admin")
    response = stranger.post(
        "/console/login/", {"username": invited.email, "password": "Fresh-pass-word-77"}
    )
    assert response["Location"] == "/console/login/enrol/"


@pytest.mark.django_db
def test_inviting_again_sends_a_new_link_and_kills_the_old_one(django_capture_on_commit_callbacks):
    admin = make_vendor("admin")
    with django_capture_on_commit_callbacks(execute=True):
        console.vendor_staff_invite(actor=admin, email="late@vendor.test", role="viewer")
        console.vendor_staff_invite(actor=admin, email="late@vendor.test", role="support")
    first, second = (m.body for m in mail.outbox)

    def path(body: str) -> str:
        line = next(x for x in body.splitlines() if "/console/invite/" in x)
        return line[line.index("/console/") :]

    client = console_client()
    assert client.get(path(first)).status_code == 400
    assert client.get(path(second)).status_code == 200
    assert User.objects.get(email="late@vendor.test").vendor_role == "support"


@pytest.mark.django_db
def test_role_change_and_deactivation_from_the_staff_page(vendor_factory):
    _admin, client = vendor_factory("admin")
    other, other_client = vendor_factory("viewer")
    with capture_audit() as events:
        client.post(f"/console/staff/{other.pk}/role/", {"role": "billing", "reason": "team"})
    other.refresh_from_db()
    assert other.vendor_role == "billing"
    assert events.actions == ["console.staff_role_changed"]
    assert events[0].changes["role"] == {"before": "viewer", "after": "billing"}
    client.post(f"/console/staff/{other.pk}/deactivate/", {"reason": "left the company"})
    other.refresh_from_db()
    assert not other.is_active
    assert other_client.get("/console/")["Location"] == "/console/login/"
