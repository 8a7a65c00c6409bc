"""``manage.py audit_retention [--tenant SLUG] [--dry-run]``: the only way events are deleted.

For each chain, removes the events older than its retention period (the
per-chain override, else ``AUDIT_RETENTION_DAYS``), leaving an HMAC-signed
checkpoint so that ``verify_audit`` still passes. Refuses a chain that does
not verify (the evidence is kept).
"""

from django.core.management.base import BaseCommand, CommandError

from audit import context
from audit.chain import apply_retention, known_chains
from audit.services import retention_days


class Command(BaseCommand):
    help = "Remove audit events past their retention period, leaving signed checkpoints."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="Only this workspace's chain.")
        parser.add_argument("--dry-run", action="store_true", help="Report, delete nothing.")

    def handle(self, *args, tenant=None, dry_run=False, **options):
        if tenant:
            from tenants.models import Tenant

            row = Tenant.objects.filter(slug=tenant).values_list("schema_name", flat=True).first()
            if row is None:
                raise CommandError(f"No workspace with the address {tenant!r}.")
            chains = [row]
        else:
            chains = known_chains()
        refused = 0
        with context.bind(actor=context.SYSTEM):
            for chain in chains:
                days = retention_days(chain=chain)
                result = apply_retention(chain=chain, days=days, dry_run=dry_run)
                name = chain or "(platform)"
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
