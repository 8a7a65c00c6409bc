"""``manage.py provision_tenant``: create a workspace non-interactively."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.principal import SYSTEM

from ...services import tenant_provision


class Command(BaseCommand):
    help = "Provision a workspace with its owner account and print its URL."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--owner-name", default="")
        parser.add_argument("--json", action="store_true", help="Print a JSON object.")

    def handle(self, *args, **options) -> None:
        try:
            workspace = tenant_provision(
                actor=SYSTEM,
                name=options["name"],
                slug=options["slug"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                owner_name=options["owner_name"],
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
            )
            raise CommandError(problems) from error
        tenant = workspace.tenant
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "slug": tenant.slug,
                        "schema": tenant.schema_name,
                        "url": workspace.url,
                        "state": tenant.state,
                        "owner_email": tenant.owner_email,
                        "provisioned_from": workspace.path,
                    }
                )
            )
        else:
            self.stdout.write(workspace.url)
