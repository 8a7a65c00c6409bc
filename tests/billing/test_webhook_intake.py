"""The webhook's cheap intake: its short path through the middleware, one INSERT in
autocommit, and the processing task queued once; a broker that refuses leaves nothing
stored, so Stripe's retry is processed."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import WebhookEvent
from config.celery import app as celery_app
from tests.conftest import next_task

from .helpers import event_body, sign

URL = "/billing/webhook/"


def post(client: Client, body: bytes):
    return client.post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body))


def public(**kwargs) -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN, **kwargs)


TASK = "billing.tasks.process_webhook_event"


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_one_statement_and_one_message_a_worker_runs(real_broker):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_nobody"})
    event_id = json.loads(body)["id"]
    with CaptureQueriesContext(connection) as queries:
        assert post(public(), body).status_code == 200
    # No BEGIN / COMMIT around the INSERT ... ON CONFLICT: it commits on its own (a new
    # connection sets its search_path first).
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert [verb for verb in statements if verb != "SET"] == ["INSERT"]

    message = next_task(real_broker)
    assert (message.name, message.args, message.kwargs) == (TASK, [], {"event_id": event_id})
    task = celery_app.tasks[TASK]
    assert task.run(**message.kwargs) == "unmatched"  # what a worker does with it
    message.ack()
    assert WebhookEvent.objects.get(event_id=event_id).attempts == 1

    # The duplicate: acknowledged, nothing queued.
    assert post(public(), body).status_code == 200
    with pytest.raises(real_broker.Empty):
        real_broker.get(timeout=0.5)


def test_the_webhook_skips_the_middleware_people_need(db, django_capture_on_commit_callbacks):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_x"})
    with django_capture_on_commit_callbacks(execute=False):
        response = post(public(), body)
    assert response.status_code == 200
    assert response.has_header("X-Request-ID")  # the ops middleware still logs it
    assert not response.has_header("X-Frame-Options")  # the page middleware did not run
    assert not response.cookies  # no session, no CSRF cookie
    # Any other method takes the whole chain (the branded 405 page).
    response = public().get(URL)
    assert response.status_code == 405 and response.has_header("X-Frame-Options")


@pytest.mark.django_db(transaction=True)
def test_broker_down_leaves_nothing_stored_so_stripes_retry_is_processed(real_broker):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_nobody"})
    event_id = json.loads(body)["id"]
    # A broker that refuses at once (Celery's publish breaker, config.celery).
    celery_app._broker_down_until = float("inf")
    try:
        response = post(public(raise_request_exception=False), body)
    finally:
        celery_app._broker_down_until = 0.0
    assert response.status_code == 500
    assert not WebhookEvent.objects.filter(event_id=event_id).exists()

    # Stripe retries: stored and queued this time, not taken for a duplicate.
    assert post(public(), body).status_code == 200
    assert WebhookEvent.objects.get(event_id=event_id).status == "received"
    message = next_task(real_broker)
    assert message.kwargs == {"event_id": event_id}
    message.ack()


def test_the_service_returns_the_stored_rows_id_and_none_for_a_duplicate(
    db, django_capture_on_commit_callbacks
):
    from billing import services
    from billing.views import STRIPE_WEBHOOK

    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_x"})
    receive = lambda: services.webhook_receive(  # noqa: E731
        actor=STRIPE_WEBHOOK, payload=body, signature=sign(body)
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        stored = receive()
        assert receive() is None
    assert stored == WebhookEvent.objects.get(event_id=json.loads(body)["id"]).pk
    assert len(queued) == 1  # the duplicate queued nothing
