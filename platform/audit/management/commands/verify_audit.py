"""``manage.py verify_audit [--tenant SLUG] [--platform] [--json]``: walk the hash chains.

Exits 1 and names the first bad event when an event was changed, removed or
inserted out of order (or a checkpoint's signature is wrong); 0 when all is well.
Seals pending events first (unless ``--no-seal``); events that are still not
linked only because no seal has run since they committed are counted as
``pending``, which is not a failure.
"""

import json
import time

from django.core.management.base import BaseCommand

from audit import context
from audit.chain import verify_chains
from audit.management.chains import chains_for


class Command(BaseCommand):
    help = "Verify the audit log's hash chains and signed checkpoints."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Only this workspace's chain.")
        parser.add_argument("--platform", action="store_true", help="Only the platform's chain.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--no-seal", action="store_true", help="Do not link pending events first."
        )

    def handle(self, *args, tenant=None, platform=False, json=False, no_seal=False, **options):
        chains = chains_for(tenant=tenant, platform=platform)
        started = time.monotonic()
        with context.bind(actor=context.SYSTEM):
            report = verify_chains(chains, seal=not no_seal)
        per_chain = [
            {"chain": r.chain, "events": r.events, "ok": r.ok, "pending": r.pending}
            for r in report.results
        ]
        seconds = time.monotonic() - started
        ok, first_bad = report.ok, report.first_bad
        if json:
            self.stdout.write(_dumps({
                "events": report.events, "ok": ok, "first_bad": first_bad, "chains": per_chain,
                "pending": report.pending,
                "seconds": round(seconds, 3),
            }))  # fmt: skip
        else:
            for item in per_chain:
                name = item["chain"] or "(platform)"
                status = "ok" if item["ok"] else "BAD"
                waiting = f", {item['pending']} pending (not sealed yet)" if item["pending"] else ""
                self.stdout.write(f"{name}: {item['events']} events {status}{waiting}")
            if ok:
                self.stdout.write(
                    self.style.SUCCESS(f"{report.events} events verified in {seconds:.2f}s")
                )
            else:
                self.stderr.write(self.style.ERROR(_describe(first_bad)))
        if not ok:
            raise SystemExit(1)


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True)


def _describe(bad: dict) -> str:
    where = f"event {bad['event_id']}" if bad.get("event_id") is not None else "chain"
    seq = f" (seq {bad['seq']})" if bad.get("seq") is not None else ""
    return f"first bad: {where}{seq} in chain {bad['chain'] or '(platform)'!s}: {bad['reason']}"
