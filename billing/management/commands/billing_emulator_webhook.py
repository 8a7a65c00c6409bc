"""``manage.py billing_emulator_webhook URL``: tell the local Stripe emulator to deliver
its events to URL, signed with STRIPE_WEBHOOK_SECRET (``make run`` does this; real
Stripe is configured in its dashboard instead)."""

import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Register this server's webhook with the local Stripe emulator (development only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("url")

    def handle(self, *args, url: str, **options) -> None:
        base = settings.STRIPE_API_BASE
        if not base.startswith("http://127.0.0.1:"):
            raise CommandError("STRIPE_API_BASE is not the local emulator: nothing to do.")
        data = urllib.parse.urlencode(
            {"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET}
        ).encode()
        request = urllib.request.Request(f"{base}/_config/webhooks/atrium", data=data)  # noqa: S310
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback (checked)
        self.stdout.write(f"the emulator delivers webhooks to {url}")
