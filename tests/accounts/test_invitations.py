"""Invitations: invite many, seat limits, accept, single use, forged/expired/foreign links."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from billing.models import Plan
from tests.conftest import client_for

from .helpers import actions_since, audit_mark, events_since, last_mail_to, link_path, make_user


def invite(client, on_commit, emails: str, role: str = "member"):
    with on_commit():
        return client.post("/staff/invite/", {"emails": emails, "role": role}, follow=True)


def pending_emails(tenant) -> set[str]:
    with schema_context(tenant.schema_name):
        return set(Invitation.objects.pending().values_list("email", flat=True))


def test_admin_invites_several_people_at_once(tenant_a, admin_client_a, member_a, on_commit):
    mark = audit_mark()
    response = invite(
        admin_client_a, on_commit, "New.One@example.com, new2@example.com\nmember@alpha.test nope"
    )
    assert response.status_code == 200
    assert pending_emails(tenant_a) == {"new.one@example.com", "new2@example.com"}
    assert actions_since(tenant_a, mark) == ["staff.invited", "staff.invited"]
    text = response.content.decode()
    assert "Already a member of this workspace." in text
    assert "not a valid email address" in text
    message = last_mail_to("new.one@example.com")
    assert "Alpha Partners" in message.subject
    assert link_path(message, "/invite/").startswith("/invite/")
    # Inviting a pending address again says so and sends nothing.
    mail.outbox.clear()
    response = invite(admin_client_a, on_commit, "new2@example.com")
    assert "Already invited" in response.content.decode()
    assert mail.outbox == []


def test_the_invitation_stores_only_a_hash_of_its_secret(tenant_a, admin_client_a, on_commit):
    invite(admin_client_a, on_commit, "hash@example.com")
    path = link_path(last_mail_to("hash@example.com"), "/invite/")
    token = path.split("/")[2]
    with schema_context(tenant_a.schema_name):
        invitation = Invitation.objects.get(email="hash@example.com")
    assert invitation.token_hash not in path
    assert len(invitation.token_hash) == 64
    assert token not in invitation.token_hash


def test_seat_limit_refuses_inviting_with_how_to_raise_it(tenant_a, admin_client_a, on_commit):
    with schema_context(tenant_a.schema_name):
        active = User.objects.filter(is_active=True).count()
    Plan.objects.filter(pk=tenant_a.plan_id).update(max_staff=active + 1)
    mark = audit_mark()
    response = invite(admin_client_a, on_commit, "a@example.com b@example.com")
    text = response.content.decode()
    assert "upgrade the plan" in text and "contact our support team" in text
    assert pending_emails(tenant_a) == set()
    assert actions_since(tenant_a, mark) == []
    # One seat is free: one invitation fits, and then it counts against the limit.
    invite(admin_client_a, on_commit, "a@example.com")
    assert pending_emails(tenant_a) == {"a@example.com"}
    response = invite(admin_client_a, on_commit, "b@example.com")
    assert "upgrade the plan" in response.content.decode()


def test_seat_limit_is_the_workspace_plan_not_the_default_one(tenant_a, admin_client_a, on_commit):
    with schema_context(tenant_a.schema_name):
        active = User.objects.filter(is_active=True).count()
    # The default plan is full; the workspace's own plan has room.
    Plan.objects.filter(is_default=True).update(max_staff=active)
    bigger = Plan.objects.create(
        code="bigger", name="Bigger", max_staff=active + 5,
        storage_quota_bytes=1, max_upload_bytes=1,
    )  # fmt: skip
    type(tenant_a).objects.filter(pk=tenant_a.pk).update(plan=bigger)
    assert "Bigger plan" in admin_client_a.get("/staff/").content.decode()
    invite(admin_client_a, on_commit, "roomy@example.com")
    assert pending_emails(tenant_a) == {"roomy@example.com"}


def test_invitee_sets_name_and_password_and_lands_signed_in(tenant_a, admin_client_a, on_commit):
    invite(admin_client_a, on_commit, "joiner@example.com", role="admin")
    path = link_path(last_mail_to("joiner@example.com"), "/invite/")
    visitor = client_for(tenant_a)
    page = visitor.get(path)
    assert page.status_code == 200 and "joiner@example.com" in page.content.decode()
    mark = audit_mark()
    response = visitor.post(
        path,
        {"full_name": "Jo Iner", "password1": "Fresh-secret-42", "password2": "Fresh-secret-42"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert visitor.get("/").status_code == 200  # signed in
    with schema_context(tenant_a.schema_name):
        user = User.objects.get(email="joiner@example.com")
        assert (user.full_name, user.role) == ("Jo Iner", "admin")
        assert Invitation.objects.get(email=user.email).accepted_user_id == user.pk
    assert actions_since(tenant_a, mark) == ["staff.invitation_accepted", "auth.login"]
    event = events_since(tenant_a, mark, "staff.invitation_accepted")[0]
    assert event.actor_id == str(user.pk)
    # Single use: the link is dead now, and says why.
    again = client_for(tenant_a).get(path)
    assert again.status_code == 400
    assert "already accepted" in again.content.decode()


def test_a_password_with_outer_spaces_is_kept_as_typed(tenant_a, admin_client_a, on_commit):
    """Both fields keep their spaces: the second one used to be stripped, so such a
    password was always "different" from itself."""
    invite(admin_client_a, on_commit, "spacey@example.com")
    path = link_path(last_mail_to("spacey@example.com"), "/invite/")
    password = " Fresh-secret-42 "
    response = client_for(tenant_a).post(
        path, {"full_name": "Spacey", "password1": password, "password2": password}
    )
    assert response.status_code == 302, response.content.decode()
    with schema_context(tenant_a.schema_name):
        user = User.objects.get(email="spacey@example.com")
        assert user.check_password(password) and not user.check_password(password.strip())


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ("AcceptInvitationForm", {"full_name": "X", "password1": "{a}", "password2": "{b}"}),
        (
            "PasswordChangeForm",
            {"current_password": "c", "new_password1": "{a}", "new_password2": "{b}"},
        ),
    ],
)
def test_both_password_forms_refuse_two_different_passwords_alike(form, fields):
    from accounts import forms

    def bound(a: str, b: str):
        data = {k: v.format(a=a, b=b) for k, v in fields.items()}
        return getattr(forms, form)(data)

    different = bound("Fresh-secret-42", "Fresh-secret-43")
    assert not different.is_valid()
    [(field, errors)] = different.errors.items()
    assert field.endswith("password2") and errors == ["The two passwords differ."]
    assert bound(" Fresh-secret-42", " Fresh-secret-42").is_valid()
    assert not bound("Fresh-secret-42 ", "Fresh-secret-42").is_valid()  # a space counts


def test_weak_password_on_acceptance_changes_nothing(tenant_a, admin_client_a, on_commit):
    invite(admin_client_a, on_commit, "weak@example.com")
    path = link_path(last_mail_to("weak@example.com"), "/invite/")
    mark = audit_mark()
    response = client_for(tenant_a).post(
        path, {"full_name": "W", "password1": "12345678", "password2": "12345678"}
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode() or "too common" in response.content.decode()
    assert pending_emails(tenant_a) == {"weak@example.com"}
    assert actions_since(tenant_a, mark) == []


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "not-a-token",
    ],
)
def test_forged_invitation_links_are_refused(tenant_a, admin_client_a, on_commit, mangle):
    invite(admin_client_a, on_commit, "forged@example.com")
    token = link_path(last_mail_to("forged@example.com"), "/invite/").split("/")[2]
    visitor = client_for(tenant_a)
    path = f"/invite/{mangle(token)}/"
    assert visitor.get(path).status_code == 400
    response = visitor.post(
        path, {"full_name": "F", "password1": "Fresh-secret-42", "password2": "Fresh-secret-42"}
    )
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    with schema_context(tenant_a.schema_name):
        assert not User.objects.filter(email="forged@example.com").exists()


def test_a_link_from_another_workspace_is_refused(tenant_a, tenant_b, admin_client_a, on_commit):
    invite(admin_client_a, on_commit, "wanderer@example.com")
    path = link_path(last_mail_to("wanderer@example.com"), "/invite/")
    assert client_for(tenant_b).get(path).status_code == 400


def test_expired_and_revoked_invitations_are_refused(tenant_a, admin_client_a, on_commit):
    invite(admin_client_a, on_commit, "late@example.com other@example.com")
    late = link_path(last_mail_to("late@example.com"), "/invite/")
    other = link_path(last_mail_to("other@example.com"), "/invite/")
    with schema_context(tenant_a.schema_name):
        Invitation.objects.filter(email="late@example.com").update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        other_pk = Invitation.objects.get(email="other@example.com").pk
    response = client_for(tenant_a).get(late)
    assert response.status_code == 400 and "expired" in response.content.decode()
    mark = audit_mark()
    admin_client_a.post(f"/staff/invitations/{other_pk}/revoke/")
    assert actions_since(tenant_a, mark) == ["staff.invitation_revoked"]
    response = client_for(tenant_a).get(other)
    assert response.status_code == 400 and "withdrawn" in response.content.decode()
    # An expired invitation frees its seat and may be sent again.
    invite(admin_client_a, on_commit, "late@example.com")
    assert "late@example.com" in pending_emails(tenant_a)


def test_resend_kills_the_old_link(tenant_a, admin_client_a, on_commit):
    invite(admin_client_a, on_commit, "again@example.com")
    old = link_path(last_mail_to("again@example.com"), "/invite/")
    with schema_context(tenant_a.schema_name):
        pk = Invitation.objects.get(email="again@example.com").pk
    mark = audit_mark()
    with on_commit():
        admin_client_a.post(f"/staff/invitations/{pk}/resend/")
    new = link_path(last_mail_to("again@example.com"), "/invite/")
    assert new != old
    assert actions_since(tenant_a, mark) == ["staff.invitation_resent"]
    assert client_for(tenant_a).get(old).status_code == 400
    assert client_for(tenant_a).get(new).status_code == 200


def test_members_cannot_invite_and_admins_cannot_invite_owners(
    tenant_a, member_client_a, admin_client_a, on_commit
):
    assert invite(member_client_a, on_commit, "x@example.com").status_code == 403
    # Admins are not offered "Owner", and choosing it anyway is a form error, not a 403.
    form = admin_client_a.get("/staff/invite/").content.decode()
    assert 'value="admin"' in form and 'value="owner"' not in form
    refused = invite(admin_client_a, on_commit, "x@example.com", role="owner")
    assert refused.status_code == 200
    assert "You cannot give this role." in refused.content.decode()
    assert pending_emails(tenant_a) == set()


def test_owner_may_invite_an_owner(tenant_a, owner_client_a, on_commit):
    assert 'value="owner"' in owner_client_a.get("/staff/invite/").content.decode()
    invite(owner_client_a, on_commit, "co-owner@example.com", role="owner")
    assert pending_emails(tenant_a) == {"co-owner@example.com"}


@override_settings(ACCOUNTS_RATE_LIMITS={"invitation": (3, 900)})
def test_invitation_links_are_rate_limited_per_ip(tenant_a):
    visitor = client_for(tenant_a)
    codes = [visitor.get(f"/invite/guess-{i}/").status_code for i in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    # Another ip is not affected.
    assert visitor.get("/invite/guess/", REMOTE_ADDR="10.9.9.9").status_code == 400


def test_existing_member_cannot_be_invited_via_the_service_either(tenant_a, owner_a):
    from accounts import services

    make_user(tenant_a, "here@alpha.test")
    with schema_context(tenant_a.schema_name):
        result = services.staff_invite(actor=owner_a, emails=["here@alpha.test"], role="member")
    assert result.invited == [] and "here@alpha.test" in result.skipped
