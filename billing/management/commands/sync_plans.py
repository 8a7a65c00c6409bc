"""``manage.py sync_plans``: create or update the public plans' products and prices in
Stripe (idempotent: run it after every deploy and on every emulator start)."""

from django.core.management.base import BaseCommand, CommandError

from billing.services import GatewayError, plans_sync
from core.principal import system


class Command(BaseCommand):
    help = "Create or update the plans and their prices in Stripe (idempotent)."

    def handle(self, *args, **options) -> None:
        try:
            count = plans_sync(actor=system("manage.py sync_plans"))
        except GatewayError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{count} prices in sync with Stripe")
