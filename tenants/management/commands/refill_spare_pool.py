"""``manage.py refill_spare_pool``: top up the pool of pre-migrated spare schemas."""

from django.core.management.base import BaseCommand

from core.principal import SYSTEM

from ... import pool
from ...services import spare_pool_refill


class Command(BaseCommand):
    help = "Create pre-migrated spare schemas until the pool holds --size of them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--size", type=int, default=None)

    def handle(self, *args, **options) -> None:
        made = spare_pool_refill(actor=SYSTEM, size=options["size"])
        self.stdout.write(f"made {made} spare schema(s); {pool.fresh_spare_count()} ready")
