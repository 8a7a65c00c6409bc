"""The email outbox (core.outbox): every email is a task on the broker, rendered by the
worker in the recipient's language, retried on temporary mail failures only, with text
parts unescaped and HTML parts escaped."""

import copy
import smtplib

import pytest
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.core import mail
from django.db import transaction
from django.utils import translation

from core import outbox
from core.tasks import send_email
from tests.conftest import next_task, waiting_tasks
from uploads.clamd_process import free_port

from .helpers import ScriptedSmtp, call_as_worker, run_as_worker, smtp_at

TRICKY = 'Müller & Söhne <"O\'Brien">'


@pytest.fixture
def test_templates(tmp_path, settings):
    """An email ``outboxtest/greeting`` with a subject, a text and an HTML body."""
    folder = tmp_path / "outboxtest"
    folder.mkdir()
    (folder / "greeting_subject.txt").write_text(
        '{% load i18n %}{% translate "Hello," %} {{ company }}\n'
    )
    (folder / "greeting_body.txt").write_text("{{ company }} - {{ when|date:'Y' }}\n")
    (folder / "greeting_body.html").write_text("<p>{{ company }}</p>\n")
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    return "outboxtest/greeting"


def test_text_parts_are_not_escaped_and_the_html_part_is(test_templates):
    subject, body, html = outbox.render(
        template=test_templates, context={"company": TRICKY}, language="en"
    )
    assert subject == f"Hello, {TRICKY}"
    assert body.startswith(f"{TRICKY} -")
    assert html.strip() == "<p>Müller &amp; Söhne &lt;&quot;O&#x27;Brien&quot;&gt;</p>"
    outbox.send_now(to="a@x.test", template=test_templates, context={"company": TRICKY},
                    language="en")  # fmt: skip
    [sent] = mail.outbox
    assert sent.subject == f"Hello, {TRICKY}" and TRICKY in sent.body
    [(alternative, mimetype)] = sent.alternatives
    assert mimetype == "text/html" and "Müller &amp; Söhne" in alternative


def test_an_email_without_html_template_is_plain_text():
    outbox.send_now(
        to="a@x.test",
        template="accounts/email/email_changed",
        context={"new_email": "b@x.test", "workspace": TRICKY},
        language="en",
    )
    [sent] = mail.outbox
    assert sent.alternatives == [] and TRICKY in sent.body


def test_the_worker_renders_in_the_language_it_is_given(test_templates):
    with translation.override("en"):  # the sender's language does not matter
        outbox.send_now(to="a@x.test", template=test_templates, context={"company": "X"},
                        language="de")  # fmt: skip
    assert mail.outbox[0].subject == "Guten Tag, X"


def test_queued_on_commit_with_the_active_language_and_json_context(
    db, test_templates, real_broker, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    now = timezone.now()
    context = {"company": TRICKY, "when": now}
    with django_capture_on_commit_callbacks(execute=True), translation.override("de"):
        outbox.send_after_commit(to="a@x.test", template=test_templates, context=context)
        assert waiting_tasks(real_broker) == []  # not before the commit
    message = next_task(real_broker)
    assert message.name == "core.tasks.send_email"
    assert message.kwargs["language"] == "de"
    assert message.kwargs["context"] == {"company": TRICKY, "when": now}  # through JSON
    assert mail.outbox == []
    run_as_worker(message)
    [sent] = mail.outbox
    assert sent.subject == f"Guten Tag, {TRICKY}" and str(now.year) in sent.body


def test_nothing_is_queued_when_the_change_rolls_back(
    db, test_templates, real_broker, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox.send_after_commit(to="a@x.test", template=test_templates,
                                 context={"company": "X"}, language="en")  # fmt: skip
        raise RuntimeError("the change failed")
    assert callbacks == [] and waiting_tasks(real_broker) == []


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionRefusedError(), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPResponseException(451, b"try later"), True),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (450, b"mailbox busy")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"no such user")}), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_temporary_mail_failures_are_retried(error, retried):
    assert outbox.is_temporary(error) is retried


EMAIL = {"template": "accounts/email/email_changed", "language": "en",
         "context": {"new_email": "b@alpha.test", "workspace": "Alpha"}}  # fmt: skip


def test_unreachable_mail_server_is_retried_not_lost(real_broker):
    kwargs = {"to": "a@alpha.test", **EMAIL}
    with smtp_at(free_port()), pytest.raises(Retry):  # nothing listens there: refused
        call_as_worker(send_email, **kwargs)
    retry = next_task(real_broker)  # the retry waits on the broker
    assert retry.name == "core.tasks.send_email"
    assert retry.kwargs == kwargs and retry.headers["retries"] == 1
    assert retry.headers["eta"]  # after RETRY_FIRST_S, not at once


def test_a_try_later_answer_is_retried(real_broker):
    kwargs = {"to": "a@alpha.test", **EMAIL}
    with ScriptedSmtp(b"450 mailbox busy") as server, smtp_at(server.port), pytest.raises(Retry):
        call_as_worker(send_email, **kwargs)
    assert server.delivered == 0
    assert next_task(real_broker).kwargs == kwargs


def test_a_permanent_refusal_is_not_retried(real_broker):
    refused = pytest.raises(smtplib.SMTPRecipientsRefused)
    with ScriptedSmtp(b"550 no such user") as server, smtp_at(server.port), refused:
        call_as_worker(send_email, to="nobody@alpha.test", **EMAIL)
    assert waiting_tasks(real_broker) == []  # dropped (and logged by Celery), not retried


def test_an_accepted_email_is_delivered_over_smtp(real_broker):
    with ScriptedSmtp(b"250 ok") as server, smtp_at(server.port):
        sent = call_as_worker(send_email, to="a@alpha.test", **EMAIL)
    assert sent == 1 and server.delivered == 1
    assert waiting_tasks(real_broker) == []
