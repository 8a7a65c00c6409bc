"""A user's own account: profile, language, password, email change, reset, sessions."""

from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User, UserSession
from tests.conftest import PASSWORD, client_for, sign_in

from .helpers import actions_since, audit_mark, events_since, last_mail_to, link_path


def reload(tenant, user) -> User:
    with schema_context(tenant.schema_name):
        return User.objects.get(pk=user.pk)


def test_profile_language_and_time_zone_apply_per_request(tenant_a, member_a, member_client_a):
    mark = audit_mark()
    response = member_client_a.post(
        "/account/", {"full_name": "Mia Member", "language": "de", "time_zone": "Europe/Berlin"}
    )
    assert response.status_code == 302
    user = reload(tenant_a, member_a)
    assert (user.full_name, user.language, user.time_zone) == ("Mia Member", "de", "Europe/Berlin")
    [event] = events_since(tenant_a, mark, "user.profile_updated")
    assert event.changes["language"] == ["", "de"]
    page = member_client_a.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
    assert page["Content-Language"] == "de"
    assert '<html lang="de">' in page.content.decode()


def test_profile_rejects_unknown_time_zones(tenant_a, member_a, member_client_a):
    response = member_client_a.post(
        "/account/", {"full_name": "M", "language": "", "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 200
    assert reload(tenant_a, member_a).time_zone == ""


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    tenant_a, member_a, member_client_a
):
    other = client_for(tenant_a)
    assert sign_in(other, member_a.email)
    mark = audit_mark()
    new = "New-pass-1234"
    data = {"current_password": "wrong", "new_password1": new, "new_password2": new}
    response = member_client_a.post("/account/password/", data)
    assert "current password is not correct" in response.content.decode()
    assert reload(tenant_a, member_a).check_password(PASSWORD)
    data["current_password"] = PASSWORD
    assert member_client_a.post("/account/password/", data).status_code == 302
    assert reload(tenant_a, member_a).check_password("New-pass-1234")
    assert member_client_a.get("/").status_code == 200  # this session stays
    assert other.get("/").status_code == 302  # the other one ended
    assert actions_since(tenant_a, mark) == ["user.password_changed"]
    # The session list still knows the current session under its new key.
    page = member_client_a.get("/account/sessions/").content.decode()
    assert "This browser" in page


def test_email_change_is_confirmed_from_the_new_address(
    tenant_a, member_a, member_client_a, on_commit
):
    mark = audit_mark()
    with on_commit():
        member_client_a.post(
            "/account/email/", {"new_email": "Mia@New.example", "password": PASSWORD}
        )
    assert reload(tenant_a, member_a).email == "member@alpha.test"  # not yet
    path = link_path(last_mail_to("mia@new.example"), "/account/email/confirm/")
    assert member_client_a.get(path).status_code == 200  # a button, no change on GET
    assert reload(tenant_a, member_a).email == "member@alpha.test"
    with on_commit():
        assert member_client_a.post(path).status_code == 302
    assert reload(tenant_a, member_a).email == "mia@new.example"
    assert "mia@new.example" in last_mail_to("member@alpha.test").body  # old address told
    assert actions_since(tenant_a, mark) == ["user.email_change_requested", "user.email_changed"]
    # Single use.
    assert member_client_a.post(path).status_code == 400


def test_email_change_refuses_taken_addresses_and_wrong_password(
    tenant_a, member_a, member_client_a, owner_a, on_commit
):
    with on_commit():
        taken = member_client_a.post(
            "/account/email/", {"new_email": owner_a.email, "password": PASSWORD}
        )
        wrong = member_client_a.post(
            "/account/email/", {"new_email": "x@new.example", "password": "nope"}
        )
    assert "Another account" in taken.content.decode()
    assert "password is not correct" in wrong.content.decode()
    assert mail.outbox == []


def test_forged_email_change_link_changes_nothing(tenant_a, member_a, member_client_a):
    response = member_client_a.post("/account/email/confirm/forged-token/")
    assert response.status_code == 400
    assert reload(tenant_a, member_a).email == "member@alpha.test"


def test_password_reset_same_answer_for_unknown_addresses(tenant_a, member_a, on_commit):
    mark = audit_mark()
    visitor = client_for(tenant_a)
    with on_commit():
        known = visitor.post("/accounts/password-reset/", {"email": member_a.email})
        unknown = visitor.post("/accounts/password-reset/", {"email": "ghost@alpha.test"})
    assert known["Location"] == unknown["Location"] == "/accounts/password-reset/sent/"
    assert [m.to for m in mail.outbox] == [[member_a.email]]
    assert actions_since(tenant_a, mark) == ["auth.password_reset_requested"] * 2
    path = link_path(mail.outbox[0], "/accounts/reset/")
    form_page = visitor.get(path, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = visitor.post(
        set_url, {"new_password1": "Reset-pass-987", "new_password2": "Reset-pass-987"}
    )
    assert done["Location"] == "/accounts/reset/done/"
    assert reload(tenant_a, member_a).check_password("Reset-pass-987")
    [event] = events_since(tenant_a, mark, "auth.password_reset_done")
    assert event.actor_id == str(member_a.pk)


@override_settings(ACCOUNTS_RATE_LIMITS={"password_reset": (2, 3600)})
def test_password_reset_is_rate_limited(tenant_a, member_a, on_commit):
    visitor = client_for(tenant_a)
    with on_commit():
        codes = [
            visitor.post("/accounts/password-reset/", {"email": member_a.email}).status_code
            for _ in range(3)
        ]
    assert codes == [302, 302, 429]
    assert len(mail.outbox) == 2


def test_sessions_list_and_sign_out_others(tenant_a, member_a, member_client_a):
    laptop = client_for(tenant_a)
    phone = client_for(tenant_a)
    assert sign_in(laptop, member_a.email)
    assert sign_in(phone, member_a.email)
    page = member_client_a.get("/account/sessions/", HTTP_USER_AGENT="Firefox").content.decode()
    assert page.count("<tr>") == 4  # header + 3 sessions
    with schema_context(tenant_a.schema_name):
        laptop_key = laptop.cookies["atrium_session"].value
        laptop_row = UserSession.objects.get(session_key=laptop_key)
    mark = audit_mark()
    member_client_a.post(f"/account/sessions/{laptop_row.pk}/revoke/")
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200
    member_client_a.post("/account/sessions/revoke-others/")
    assert phone.get("/").status_code == 302
    assert member_client_a.get("/").status_code == 200
    assert actions_since(tenant_a, mark) == ["session.revoked", "session.revoked"]


def test_sign_in_writes_its_session_row_once(tenant_a, member_a):
    visitor = client_for(tenant_a)
    visitor.get("/accounts/login/")
    with CaptureQueriesContext(connection) as queries:
        assert sign_in(visitor, member_a.email)
    writes = [
        q["sql"] for q in queries
        if "accounts_usersession" in q["sql"] and q["sql"].startswith(("INSERT", "UPDATE"))
    ]  # fmt: skip
    assert len(writes) == 1, writes  # the sign-in's own row, not refreshed again at once
    with schema_context(tenant_a.schema_name):
        assert UserSession.objects.filter(user=member_a).count() == 1


def test_nobody_ends_someone_elses_session(tenant_a, member_a, admin_a, admin_client_a):
    victim = client_for(tenant_a)
    assert sign_in(victim, member_a.email)
    with schema_context(tenant_a.schema_name):
        row = UserSession.objects.filter(user_id=member_a.pk).first()
    admin_client_a.post(f"/account/sessions/{row.pk}/revoke/")
    assert victim.get("/").status_code == 200


def test_sign_out_forgets_the_session(tenant_a, member_a, member_client_a):
    member_client_a.post("/accounts/logout/")
    with schema_context(tenant_a.schema_name):
        assert not UserSession.objects.filter(user_id=member_a.pk).exists()
