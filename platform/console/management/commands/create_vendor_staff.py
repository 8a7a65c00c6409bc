"""``manage.py create_vendor_staff --email … --role …``: the first console account
(then staff invite each other from the console). Runs as the system, audited in the
platform's chain (``vendor_staff.created``, ``console.staff_created``)."""

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from core.principal import SYSTEM, VENDOR_ROLES

from ...services import vendor_staff_create


class Command(BaseCommand):
    help = "Create a vendor staff account with a console role (audited)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=list(VENDOR_ROLES))
        parser.add_argument("--name", dest="full_name", default="")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Read the password from CONSOLE_STAFF_PASSWORD instead of asking.",
        )

    def handle(
        self, *args, email: str, role: str, full_name: str, interactive: bool = True, **options
    ) -> None:
        if interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        else:
            password = os.environ.get("CONSOLE_STAFF_PASSWORD", "")
            if not password:
                raise CommandError("Set CONSOLE_STAFF_PASSWORD with --noinput.")
        try:
            with schema_context("public"):
                user = vendor_staff_create(
                    actor=SYSTEM, email=email, role=role, password=password, full_name=full_name
                )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            f"Vendor staff account {user.email} created with the {role} role; "
            "two-factor authentication is set up at the first sign-in."
        )
