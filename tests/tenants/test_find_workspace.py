"""Find my workspace: links are emailed; the page never reveals whether the email exists."""

from django.contrib.auth import get_user_model
from django.core import mail
from django_tenants.utils import schema_context

from tests.conftest import PASSWORD, WORKSPACES


def test_links_are_emailed_for_every_workspace_of_the_address(public_client, tenant_a, tenant_b):
    with schema_context(tenant_b.schema_name):
        get_user_model().objects.create_user(WORKSPACES["alpha"]["owner_email"], PASSWORD)
    response = public_client.post(
        "/find-workspace/", {"email": WORKSPACES["alpha"]["owner_email"].upper()}
    )
    assert response.status_code == 200
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "http://alpha.localhost/" in body
    assert "http://beta.localhost/" in body


def test_unknown_address_gets_the_same_page_and_no_email(public_client, tenant_a):
    known = public_client.post("/find-workspace/", {"email": WORKSPACES["alpha"]["owner_email"]})
    unknown = public_client.post("/find-workspace/", {"email": "nobody@nowhere.test"})
    assert len(mail.outbox) == 1
    strip = lambda r, e: r.content.replace(e.encode(), b"")  # noqa: E731
    assert strip(known, WORKSPACES["alpha"]["owner_email"]) == strip(unknown, "nobody@nowhere.test")


def test_inactive_users_and_workspaces_are_not_listed(public_client, tenant_a):
    tenant_a.state = tenant_a.State.SUSPENDED
    tenant_a.save(update_fields=["state"])
    public_client.post("/find-workspace/", {"email": WORKSPACES["alpha"]["owner_email"]})
    assert mail.outbox == []


def test_malformed_email_is_a_field_error(public_client):
    response = public_client.post("/find-workspace/", {"email": "nope"})
    assert response.status_code == 200
    assert b"valid email" in response.content
    assert mail.outbox == []


def test_links_are_mailed_by_the_outbox_in_the_visitors_language(
    public_client, tenant_a, real_broker
):
    from tests.conftest import next_task
    from tests.core.helpers import run_as_worker

    tenant_a.name = 'Müller & Söhne <"O\'Brien">'  # text email: not HTML-escaped
    tenant_a.save(update_fields=["name"])
    email = WORKSPACES["alpha"]["owner_email"]
    public_client.post("/find-workspace/", {"email": email}, HTTP_ACCEPT_LANGUAGE="de")
    message = next_task(real_broker)
    assert message.name == "signup.tasks.email_workspace_links"
    assert message.args == [email, "de"]
    assert mail.outbox == []  # looked up and sent by the worker
    run_as_worker(message)
    [sent] = mail.outbox
    assert sent.subject == "Ihre Atrium-Arbeitsbereiche"
    assert f"- {tenant_a.name}: http://alpha.localhost/" in sent.body
