"""``manage.py billing_reconcile``: sync every live subscription from Stripe now (what
the hourly task does) and print the drift."""

import json

from django.core.management.base import BaseCommand

from billing.services import reconcile_all
from core.principal import system


class Command(BaseCommand):
    help = "Sync every billing account from Stripe and report the drift."

    def handle(self, *args, **options) -> None:
        self.stdout.write(json.dumps(reconcile_all(actor=system("manage.py billing_reconcile"))))
