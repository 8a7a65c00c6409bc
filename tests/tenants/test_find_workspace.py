"""Find my workspace: links are emailed; the page never reveals whether the email exists."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import caches
from django_tenants.utils import schema_context

from tests.conftest import PASSWORD, WORKSPACES


@pytest.fixture(autouse=True)
def _no_rate_counters():
    """Rate-limit counters live in Redis, which the database rollback does not reset."""
    caches["default"].clear()
    yield
    caches["default"].clear()


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


def test_one_address_gets_a_few_emails_and_then_the_same_page_without_one(
    public_client, tenant_a, settings
):
    settings.FIND_WORKSPACE_RATE_LIMIT = (100, 3, 3600)
    email = WORKSPACES["alpha"]["owner_email"]
    pages = [public_client.post("/find-workspace/", {"email": email}) for _ in range(6)]
    assert len(mail.outbox) == 3
    assert all(page.status_code == 200 for page in pages)
    assert len({page.content for page in pages}) == 1  # limited or not, the same answer
    # The same address in other letters is the same address.
    public_client.post("/find-workspace/", {"email": email.upper()})
    assert len(mail.outbox) == 3
    # Another address is not limited by it.
    with schema_context(tenant_a.schema_name):
        get_user_model().objects.create_user("other@alpha.test", PASSWORD)
    public_client.post("/find-workspace/", {"email": "other@alpha.test"})
    assert len(mail.outbox) == 4


def test_one_client_is_limited_across_addresses_known_or_not(public_client, tenant_a, settings):
    settings.FIND_WORKSPACE_RATE_LIMIT = (4, 100, 3600)
    emails = [WORKSPACES["alpha"]["owner_email"]] + [f"n{i}@nowhere.test" for i in range(5)]
    codes = [public_client.post("/find-workspace/", {"email": e}).status_code for e in emails]
    assert codes == [200, 200, 200, 200, 429, 429]
    assert len(mail.outbox) == 1
    # Over the limit, a known and an unknown address get the same answer.
    known = public_client.post("/find-workspace/", {"email": emails[0]})
    unknown = public_client.post("/find-workspace/", {"email": "z@nowhere.test"})
    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content
    # Another client is not limited by it.
    other = public_client.post("/find-workspace/", {"email": emails[0]}, REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 200
    assert len(mail.outbox) == 2
