"""``manage.py createsuperuser``, routed through ``accounts.services.vendor_staff_create``.

Django's command writes the user row itself, outside any service and unaudited;
here it takes the same arguments and makes the account through the service, so
the platform's audit chain records it (``vendor_staff.created``).
"""

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from core.principal import SYSTEM

from ...services import vendor_staff_create


class Command(BaseCommand):
    help = "Create a vendor staff account (public schema), audited."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--full_name", "--name", dest="full_name", default="")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Read the password from DJANGO_SUPERUSER_PASSWORD instead of asking.",
        )

    def handle(self, *args, email: str, full_name: str, interactive: bool = True, **options):
        if interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        else:
            password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
            if not password:
                raise CommandError("Set DJANGO_SUPERUSER_PASSWORD with --noinput.")
        try:
            with schema_context("public"):
                user = vendor_staff_create(
                    actor=SYSTEM, email=email, password=password, full_name=full_name
                )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Vendor staff account {user.email} created.")
