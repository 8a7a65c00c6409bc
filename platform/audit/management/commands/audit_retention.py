"""``manage.py audit_retention [--tenant SLUG] [--dry-run]``: the only way events are deleted.

For each chain, removes the events older than its retention period (the
per-chain override, else ``AUDIT_RETENTION_DAYS``), leaving an HMAC-signed
checkpoint so that ``verify_audit`` still passes. Refuses a chain that does
not verify (the evidence is kept).
"""

from django.core.management.base import BaseCommand

from audit.management.chains import chains_for
from audit.services import apply_retention_to


class Command(BaseCommand):
    help = "Remove audit events past their retention period, leaving signed checkpoints."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Only this workspace's chain.")
        parser.add_argument("--dry-run", action="store_true", help="Report, delete nothing.")

    def handle(self, *args, tenant=None, dry_run=False, **options):
        chains = chains_for(tenant=tenant)
        refused = 0
        for days, result in apply_retention_to(chains, dry_run=dry_run):
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
