"""Workspace sign-in, sign-out and password reset by email."""

import re

from django.core import mail

from tests.conftest import WORKSPACES, client_for, sign_in, user_of

OWNER = WORKSPACES["alpha"]["owner_email"]


def test_sign_in_and_out(tenant_a):
    client = client_for(tenant_a)
    assert not sign_in(client, OWNER, "wrong-password")
    assert sign_in(client, OWNER)
    assert client.get("/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_message(tenant_a):
    response = client_for(tenant_a).post(
        "/accounts/login/", {"username": OWNER, "password": "nope-nope-nope"}
    )
    assert response.status_code == 200
    assert b"correct email address and password" in response.content


def test_password_reset_by_email(tenant_a, django_capture_on_commit_callbacks):
    client = client_for(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": OWNER})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://alpha\.localhost(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200
    new = "Brand-new-lantern-88"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert user_of(tenant_a, OWNER).check_password(new)
    assert sign_in(client_for(tenant_a), OWNER, new)
    # The link is single-use.
    again = client.get(link.group(1), follow=True)
    assert b"invalid or was already used" in again.content


def test_password_reset_does_not_reveal_unknown_addresses(
    tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(tenant_a).post(
            "/accounts/password-reset/", {"email": "stranger@alpha.test"}
        )
    assert response.status_code == 302
    assert mail.outbox == []


def test_reset_mail_only_for_the_workspace_of_the_host(
    tenant_b, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(tenant_b).post("/accounts/password-reset/", {"email": OWNER})
    assert mail.outbox == []
