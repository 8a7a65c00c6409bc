"""``manage.py distribute_tenants``: after moving a single-node database onto a Citus
coordinator, place every tenant and spare schema on the worker nodes."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.principal import SYSTEM
from tenants import citus


class Command(BaseCommand):
    help = (
        "Turn every tenant and spare schema into a Citus distributed schema "
        "(citus_schema_distribute). Idempotent; audited as tenant.distributed."
    )

    def handle(self, *args, **options) -> None:
        try:
            done = citus.tenants_distribute(actor=SYSTEM)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        placed = citus.placements()
        for name in done:
            self.stdout.write(f"{name} -> {placed.get(name, '?')}")
        self.stdout.write(f"distributed {len(done)} schema(s)")
