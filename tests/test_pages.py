"""Pages that are consistent: one layout whose navigation marks the current page, a
"Sign in" link on the public site, one date format per language, confirmation before
destructive actions, and messages in the language the user just chose."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in


@pytest.fixture
def member_client(tenant_a):
    member = make_user(tenant_a, "mia@alpha.test", "member", full_name="Mia Member")
    client = client_for(tenant_a)
    assert sign_in(client, member.email)
    client.user = member
    return client


def test_the_first_switch_to_german_says_so_in_german(member_client):
    response = member_client.post(
        "/account/", {"full_name": "Mia Member", "language": "de", "time_zone": ""}, follow=True
    )
    body = response.content.decode()
    assert "Ihr Profil wurde gespeichert." in body
    assert "Your profile was saved." not in body
    # And back: the message follows the new choice again.
    response = member_client.post(
        "/account/", {"full_name": "Mia Member", "language": "en", "time_zone": ""}, follow=True
    )
    assert "Your profile was saved." in response.content.decode()


def test_going_back_to_the_browser_language_uses_the_browser_language(member_client):
    member_client.post("/account/", {"full_name": "M", "language": "de", "time_zone": ""})
    response = member_client.post(
        "/account/", {"full_name": "M", "language": "", "time_zone": ""},
        HTTP_ACCEPT_LANGUAGE="en", follow=True,
    )  # fmt: skip
    assert "Your profile was saved." in response.content.decode()


def test_the_landing_page_has_a_sign_in_link(public_client):
    body = public_client.get("/").content.decode()
    assert 'id="sign-in"' in body and 'href="/find-workspace/"' in body
    assert ">Sign in<" in body
    assert ">Anmelden<" in public_client.get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()


@pytest.mark.parametrize(
    ("url", "current"),
    [("/", "Home"), ("/documents/", "Documents"), ("/audit/mine/", "My activity")],
)
def test_the_navigation_marks_the_current_page(member_client, url, current):
    body = member_client.get(url).content.decode()
    assert body.count('aria-current="page"') == 1
    assert f'aria-current="page">{current}<' in body


def test_admin_navigation_marks_staff_and_audit(owner_client_a, owner_a):
    staff = owner_client_a.get(f"/staff/{owner_a.pk}/").content.decode()
    assert 'aria-current="page">Staff<' in staff
    audit_page = owner_client_a.get("/audit/").content.decode()
    assert 'aria-current="page">Audit log<' in audit_page


def test_one_date_format_per_language():
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=ZoneInfo("UTC"))
    template = Template(
        '{{ t|date:"SHORT_DATETIME_FORMAT" }}|{{ t|date:"DATETIME_FORMAT" }}|{{ t|date }}'
    )
    with translation.override("en"):
        assert (
            template.render(Context({"t": moment}))
            == "4 Mar 2026, 05:06|4 Mar 2026, 05:06:07|4 Mar 2026"
        )
    with translation.override("de"):
        assert (
            template.render(Context({"t": moment})) == "4.3.2026, 05:06|4.3.2026, 05:06:07|4.3.2026"
        )


def test_destructive_actions_ask_first(owner_client_a, tenant_a):
    bob = make_user(tenant_a, "bob@alpha.test", "member")
    detail = owner_client_a.get(f"/staff/{bob.pk}/").content.decode()
    assert 'data-confirm="Deactivate bob@alpha.test?' in detail
    owner_client_a.post("/staff/invite/", {"emails": "new@alpha.test", "role": "member"})
    staff = owner_client_a.get("/staff/").content.decode()
    assert 'data-confirm="Revoke the invitation to new@alpha.test?' in staff
    sessions = owner_client_a.get("/account/sessions/").content.decode()
    assert 'data-confirm="Sign out of all other sessions?"' in sessions
    base = owner_client_a.get("/").content.decode()
    assert '<dialog id="confirm-dialog"' in base and "js/atrium.js" in base
