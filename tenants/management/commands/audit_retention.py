"""``manage.py audit_retention [--tenant SLUG] [--dry-run]``: the only way events are deleted.

For each chain, removes the events older than its retention period (the
per-chain override, else ``AUDIT_RETENTION_DAYS``), leaving an HMAC-signed
checkpoint so that ``verify_audit`` still passes. Refuses a chain that does
not verify (the evidence is kept).
"""

from django.core.management.base import BaseCommand

import audit.services as audit
from core.principal import SYSTEM

from ..chains import add_chain_arguments, chosen_chains


class Command(BaseCommand):
    help = "Remove audit events past their retention period, leaving signed checkpoints."

    def add_arguments(self, parser) -> None:
        add_chain_arguments(parser, platform=False)
        parser.add_argument("--dry-run", action="store_true", help="Report, delete nothing.")

    def handle(self, *args, tenant=None, dry_run=False, **options):
        chains = chosen_chains(tenant=tenant)
        refused = 0
        for days, result in audit.retention_apply(actor=SYSTEM, chains=chains, dry_run=dry_run):
            name = result.chain or "(platform)"
            if result.refused:
                refused += 1
                self.stderr.write(f"{name}: refused, chain does not verify: {result.refused}")
            elif result.removed:
                verb = "would remove" if dry_run else "removed"
                self.stdout.write(
                    f"{name}: {verb} {result.removed} events older than {days} days "
                    f"(through seq {result.through_seq})"
                )
        if refused:
            raise SystemExit(1)
