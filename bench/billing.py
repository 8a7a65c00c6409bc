"""Benchmark: Stripe webhook intake, and exactly-once processing of a shuffled stream.

Against the local Stripe emulator (localstripe, ``make services`` starts it on
127.0.0.1:STRIPE_EMULATOR_PORT) and a database of its own:

1. ``BENCH_ACCOUNTS`` workspaces (tenant rows only: billing lives in the public schema)
   subscribe in the emulator; then each subscription's quantity is changed in Stripe
   behind our back, so the final state can only come from processing.
2. ``BENCH_EVENTS`` signed events naming those customers, 20 % of them duplicates,
   shuffled, are POSTed to ``/billing/webhook/`` through Django's full stack (the
   public host's middleware, signature check, INSERT ... ON CONFLICT, enqueue on the
   real Redis broker). Intake latency and rate are measured here.
3. The queued tasks are drained from Redis and run as a worker runs them. Then:
   every event processed exactly once (``duplicates_processed``), and every account
   equal to Stripe's subscription (``drift``).

Run: ``make bench B=billing``. Last line: one JSON object.
"""

import json
import os
import random
import secrets
import time

import _common

DB_NAME = "bench_billing"
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "20"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "1000"))
DUPLICATE_SHARE = 0.2
TIME_LIMIT_S = float(os.environ.get("BENCH_TIME_LIMIT", "300"))
SECRET = "whsec_bench_only"


def main() -> None:
    port = os.environ.get("STRIPE_EMULATOR_PORT", "12111")
    _common.use_environment(DB_NAME)
    os.environ.update(
        {
            "STRIPE_SECRET_KEY": "sk_test_bench",
            "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "CELERY_TASK_ALWAYS_EAGER": "0",
        }
    )
    _common.recreate_database(DB_NAME)
    _common.flush_redis()
    _common.setup()
    _common.migrate_public()

    from django.conf import settings
    from django.test import Client

    from billing import gateway, services
    from billing.models import BillingAccount, WebhookEvent
    from config.celery import app as celery_app
    from core.principal import SYSTEM
    from tenants.models import Tenant
    from tests.billing.helpers import sign

    started = time.monotonic()
    services.plans_sync(actor=SYSTEM)
    price = "atrium_team_month_800eur"
    customers = []
    for n in range(ACCOUNTS):
        tenant = Tenant.objects.create(
            schema_name=f"t_bench{n}",
            slug=f"bench{n}",
            name=f"Bench {n}",
            owner_email=f"owner@bench{n}.test",
            state=Tenant.State.ACTIVE,
        )
        customer = gateway.customer_create(email=tenant.owner_email, name=tenant.name,
                                           tenant_id=tenant.pk)  # fmt: skip
        method = gateway.card_payment_method_create(
            number="4242424242424242", exp_month=12, exp_year=2035, cvc="123"
        )
        gateway.payment_method_make_default(customer_id=customer, payment_method_id=method)
        sub = gateway.subscription_create(customer_id=customer, price_id=price, quantity=1)
        account = services.account_ensure(tenant_id=tenant.pk)
        BillingAccount.objects.filter(pk=account.pk).update(
            stripe_customer_id=customer, seats_in_use=1 + n % 5
        )
        services.account_sync(actor=SYSTEM, tenant_id=tenant.pk)
        # Behind our back: only processing the events can bring the account up to date.
        gateway.subscription_update(
            subscription_id=sub["id"], item_id=sub["item_id"], quantity=1 + n % 5
        )
        customers.append(customer)
    print(f"setup: {ACCOUNTS} subscribed accounts in {time.monotonic() - started:.1f} s")

    unique = int(EVENTS * (1 - DUPLICATE_SHARE))
    bodies = []
    for i in range(unique):
        event = {
            "id": f"evt_bench_{i}_{secrets.token_hex(4)}",
            "object": "event",
            "type": random.choice(
                ["customer.subscription.updated", "invoice.paid", "invoice.payment_succeeded"]
            ),
            "created": int(time.time()) - random.randint(0, 3600),
            "data": {"object": {"object": "invoice", "customer": customers[i % ACCOUNTS]}},
        }
        bodies.append(json.dumps(event).encode())
    stream = bodies + random.choices(bodies, k=EVENTS - unique)
    random.shuffle(stream)

    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    timings = []
    intake_started = time.monotonic()
    for body in stream:
        if time.monotonic() - started > TIME_LIMIT_S:
            break
        signature = sign(body, secret=SECRET)
        t0 = time.perf_counter()
        response = client.post(
            "/billing/webhook/", body, content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )  # fmt: skip
        timings.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.content
    intake_s = time.monotonic() - intake_started
    intake = _common.describe_ms("intake (verify, insert, enqueue)", timings)
    per_s = len(timings) / intake_s
    print(f"intake rate: {per_s:.0f} events/s  (target >= 500)")
    print(f"intake p50 {intake['p50']:.2f} ms  (target <= 5 ms)")

    # Drain the broker as a worker would: each message runs its task once.
    messages = 0
    with celery_app.connection_for_write() as conn:
        queue = conn.SimpleQueue("celery")
        task = celery_app.tasks["billing.tasks.process_webhook_event"]
        while True:
            try:
                message = queue.get(timeout=1)
            except queue.Empty:
                break
            if message.headers["task"] != task.name:
                message.ack()
                continue
            _args, kwargs, _embed = message.payload
            task.run(**kwargs)
            message.ack()
            messages += 1
        queue.close()
    stored = WebhookEvent.objects.count()
    processed = WebhookEvent.objects.filter(status="processed").count()
    # An event processed more than once would have run more tasks than events stored,
    # or more than one attempt.
    duplicates_processed = (messages - stored) + WebhookEvent.objects.filter(attempts__gt=1).count()
    print(f"stored {stored} events, queued {messages} tasks, processed {processed}")

    drift = 0
    for account in BillingAccount.objects.exclude(stripe_customer_id=None):
        sub = gateway.subscription_get(subscription_id=account.stripe_subscription_id)
        if (account.seats_billed, account.stripe_status) != (sub["quantity"], sub["status"]):
            drift += 1
    print(f"accounts different from Stripe after processing: {drift}")

    from django.db import connections

    connections.close_all()
    if not os.environ.get("BENCH_KEEP_DB"):
        _common.drop_database(DB_NAME)
    _common.flush_redis()
    _common.emit(
        {
            "intake_p50_ms": round(intake["p50"], 2),
            "intake_p90_ms": round(intake["p90"], 2),
            "intake_per_s": round(per_s),
            "events": len(timings),
            "unique_events": stored,
            "processed": processed,
            "duplicates_processed": duplicates_processed,
            "drift": drift,
        }
    )


if __name__ == "__main__":
    main()
