"""The webhook's cheap intake: its short path through the middleware, one INSERT in
autocommit, and one dispatch queued for a burst of deliveries, which queues each
delivery's processing once; a broker that refuses leaves nothing stored, so Stripe's
retry is processed."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import WebhookEvent
from config.celery import app as celery_app
from tests.conftest import next_task, waiting_tasks

from .helpers import event_body, sign

URL = "/billing/webhook/"


def post(client: Client, body: bytes):
    return client.post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body))


def public(**kwargs) -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN, **kwargs)


TASK = "billing.tasks.process_webhook_event"
DISPATCH = "billing.tasks.dispatch_webhook_events"


def run(message) -> object:
    """What a worker does with ``message``."""
    result = celery_app.tasks[message.name].run(*message.args, **message.kwargs)
    message.ack()
    return result


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_one_statement_and_its_processing_is_queued_once(real_broker):
    body = event_body("invoice.paid", {"object": "invoice", "customer": "cus_nobody"})
    event_id = json.loads(body)["id"]
    with CaptureQueriesContext(connection) as queries:
        assert post(public(), body).status_code == 200
    # No BEGIN / COMMIT around the INSERT ... ON CONFLICT: it commits on its own (a new
    # connection sets its search_path first).
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert [verb for verb in statements if verb != "SET"] == ["INSERT"]

    dispatch = next_task(real_broker)
    assert (dispatch.name, dispatch.args, dispatch.kwargs) == (DISPATCH, [], {})
    assert run(dispatch) == 1
    assert WebhookEvent.objects.get(event_id=event_id).status == "queued"
    message = next_task(real_broker)
    assert (message.name, message.args, message.kwargs) == (TASK, [], {"event_id": event_id})
    assert run(message) == "unmatched"
    assert WebhookEvent.objects.get(event_id=event_id).attempts == 1

    # The duplicate: acknowledged, nothing queued.
    assert post(public(), body).status_code == 200
    assert waiting_tasks(real_broker) == []


@pytest.mark.django_db(transaction=True)
def test_a_burst_queues_one_dispatch_and_one_task_per_delivery(real_broker):
    bodies = [
        event_body("invoice.paid", {"object": "invoice", "customer": f"cus_{n}"}) for n in range(5)
    ]
    for body in bodies:
        assert post(public(), body).status_code == 200
    dispatch = next_task(real_broker)
    assert dispatch.name == DISPATCH
    assert waiting_tasks(real_broker) == []  # the other four found it waiting
    assert run(dispatch) == 5
    queued = [next_task(real_broker) for _ in bodies]
    assert {m.kwargs["event_id"] for m in queued} == {json.loads(b)["id"] for b in bodies}
    for message in queued:
        message.ack()
    # A delivery after the dispatch looked wakes the next one.
    late = event_body("invoice.paid", {"object": "invoice", "customer": "cus_late"})
    assert post(public(), late).status_code == 200
    assert next_task(real_broker).name == DISPATCH


@pytest.mark.django_db(transaction=True)
def test_a_dispatch_whose_broker_refuses_gives_the_deliveries_back(real_broker):
    from billing import services
    from billing.tasks import STRIPE

    bodies = [
        event_body("invoice.paid", {"object": "invoice", "customer": customer})
        for customer in ("cus_x", "cus_y")
    ]
    for body in bodies:
        assert post(public(), body).status_code == 200
    next_task(real_broker).ack()  # the dispatch, not run by a worker
    celery_app._broker_down_until = float("inf")
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the breaker raises
            services.webhook_dispatch(actor=STRIPE)
    finally:
        celery_app._broker_down_until = 0.0
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"received"}
    # The beat's sweep (or the next delivery's dispatch) queues them after all.
    assert services.webhook_dispatch(actor=STRIPE) == 2
    assert {next_task(real_broker).name for _ in bodies} == {TASK}


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_message_was_lost_is_queued_again(real_broker, settings):
    from datetime import timedelta

    from django.utils import timezone

    from billing import services
    from billing.tasks import STRIPE

    bodies = {
        customer: event_body("invoice.paid", {"object": "invoice", "customer": customer})
        for customer in ("cus_lost", "cus_waiting")
    }
    for body in bodies.values():
        assert post(public(), body).status_code == 200
    run(next_task(real_broker))  # the dispatch: both queued
    for _ in bodies:
        next_task(real_broker).ack()  # and both messages lost (a broker restart)
    assert services.webhook_dispatch(actor=STRIPE) == 0  # not yet: they may be waiting
    lost = timezone.now() - timedelta(seconds=settings.BILLING_WEBHOOK_REQUEUE_AFTER + 60)
    WebhookEvent.objects.filter(customer_id="cus_lost").update(queued_at=lost)

    assert services.webhook_dispatch(actor=STRIPE) == 1
    message = next_task(real_broker)
    assert message.kwargs == {"event_id": json.loads(bodies["cus_lost"])["id"]}
    assert run(message) == "unmatched"
    # Run late a second time (a slow message, not a lost one): nothing more happens.
    assert services.webhook_process(actor=STRIPE, event_id=message.kwargs["event_id"]) == (
        "unmatched"
    )
    assert WebhookEvent.objects.get(customer_id="cus_lost").attempts == 1
    assert WebhookEvent.objects.get(customer_id="cus_waiting").status == "queued"


def test_the_beat_sweeps_for_deliveries_every_minute(settings):
    sweep = settings.CELERY_BEAT_SCHEDULE["billing-dispatch-webhooks"]
    assert sweep == {"task": DISPATCH, "schedule": 60.0}
    celery_app.loader.import_default_modules()  # what a worker and beat load at start
    assert DISPATCH in celery_app.tasks


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
    assert run(next_task(real_broker)) == 1  # the dispatch
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


def _failing_event(tenant, settings) -> str:
    """A stored delivery for ``tenant``'s customer, with Stripe unreachable (nothing
    listens on the discard port): processing it fails as when Stripe is away."""
    from billing.models import BillingAccount

    BillingAccount.objects.filter(tenant=tenant).update(stripe_customer_id="cus_away")
    body = json.loads(event_body("invoice.paid", {"object": "invoice", "customer": "cus_away"}))
    WebhookEvent.objects.create(
        event_id=body["id"], type=body["type"], stripe_created=body["created"],
        customer_id="cus_away", payload=body, status=WebhookEvent.Status.QUEUED,
    )  # fmt: skip
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    return body["id"]


@pytest.mark.django_db
def test_a_failed_attempts_lost_retry_is_queued_again(real_broker, settings, tenant_a):
    from datetime import timedelta

    from django.utils import timezone

    from billing import services
    from billing.gateway import GatewayError
    from billing.tasks import STRIPE

    event_id = _failing_event(tenant_a, settings)
    before = timezone.now()
    with pytest.raises(GatewayError):
        services.webhook_process(actor=STRIPE, event_id=event_id, retry_in=600)
    event = WebhookEvent.objects.get(event_id=event_id)
    assert event.status == "failed" and event.attempts == 1
    due = event.queued_at - before
    assert timedelta(seconds=600) <= due < timedelta(seconds=660)
    # The retry is not even due: the sweep leaves it to the retry's own message.
    assert services.webhook_dispatch(actor=STRIPE) == 0
    # Due long ago and still failed: its message is gone (a broker restart).
    long_ago = timezone.now() - timedelta(seconds=settings.BILLING_WEBHOOK_REQUEUE_AFTER + 60)
    WebhookEvent.objects.filter(event_id=event_id).update(queued_at=long_ago)
    assert services.webhook_dispatch(actor=STRIPE) == 1
    message = next_task(real_broker)
    assert (message.name, message.kwargs) == (TASK, {"event_id": event_id})
    assert WebhookEvent.objects.get(event_id=event_id).status == "queued"


@pytest.mark.django_db
def test_after_the_last_retry_nothing_is_queued_again(settings, tenant_a):
    from billing import services
    from billing.gateway import GatewayError
    from billing.tasks import MAX_RETRIES, STRIPE, process_webhook_event

    event_id = _failing_event(tenant_a, settings)
    # The next-to-last attempt fails and retries (eagerly here); the last one gives up.
    result = process_webhook_event.apply(kwargs={"event_id": event_id}, retries=MAX_RETRIES - 1)
    assert isinstance(result.result, GatewayError)
    event = WebhookEvent.objects.get(event_id=event_id)
    assert (event.status, event.attempts, event.queued_at) == ("failed", 2, None)
    assert services.webhook_dispatch(actor=STRIPE) == 0
