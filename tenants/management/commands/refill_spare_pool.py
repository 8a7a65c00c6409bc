"""``manage.py refill_spare_pool``: top up the pool of pre-migrated spare schemas."""

from django.core.management.base import BaseCommand

from tenants import pool


class Command(BaseCommand):
    help = "Create pre-migrated spare schemas until the pool holds --size of them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--size", type=int, default=None)

    def handle(self, *args, **options) -> None:
        made = pool.refill(options["size"])
        self.stdout.write(f"made {made} spare schema(s); {pool.fresh_spare_count()} ready")
