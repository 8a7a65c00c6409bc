"""``manage.py move_tenant``: move one workspace's schema to another Citus worker, online."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.principal import SYSTEM
from tenants import citus
from tenants.selectors import tenant_for_slug


class Command(BaseCommand):
    help = (
        "Move a workspace's schema to another Citus worker node while it keeps working "
        "(citus_schema_move). Audited as tenant.moved."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument(
            "--to", default="", help="host:port of the target worker (default: least loaded)"
        )
        parser.add_argument("--json", action="store_true", help="Print a JSON object.")

    def handle(self, *args, **options) -> None:
        tenant = tenant_for_slug(options["slug"].strip().lower())
        if tenant is None:
            raise CommandError(f"No workspace with the address {options['slug']!r}.")
        try:
            target = citus.Node.parse(options["to"]) if options["to"] else None
            moved = citus.tenant_move(actor=SYSTEM, tenant=tenant, to=target)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if options["json"]:
            self.stdout.write(json.dumps({
                "slug": tenant.slug, "schema": tenant.schema_name, "from": str(moved.source),
                "to": str(moved.target), "seconds": round(moved.seconds, 3),
            }))  # fmt: skip
        else:
            self.stdout.write(
                f"moved {tenant.slug} from {moved.source} to {moved.target} "
                f"in {moved.seconds:.2f} s"
            )
