"""Restore a workspace from a backup, list its backups, or discard an aside schema.

manage.py restore_workspace --slug acme --list
manage.py restore_workspace --slug acme [--backup ID] --keep-aside   # inspect first
manage.py restore_workspace --slug acme [--backup ID] --swap         # replace live data
manage.py restore_workspace --slug acme --discard r_260101120000_t_acme
"""

import json

from django.core.management.base import BaseCommand, CommandError

from backups.services import (
    BackupError,
    aside_schemas,
    backup_ids_in_storage,
    backup_restore,
    restore_discard,
)

from ._common import command_actor, tenant_for


class Command(BaseCommand):
    help = "Restore a workspace from a backup (verified; swapped in or kept aside)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True)
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--list", action="store_true", help="backups and aside schemas")
        mode.add_argument("--swap", action="store_true", help="replace the live schema")
        mode.add_argument("--keep-aside", action="store_true", help="restore next to it")
        mode.add_argument("--discard", metavar="SCHEMA", help="drop a schema set aside")
        parser.add_argument("--backup", help="backup id (default: the newest)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        tenant = tenant_for(opts["slug"])
        actor = command_actor("restore_workspace")
        try:
            if opts["list"]:
                out = {"backups": backup_ids_in_storage(tenant.schema_name),
                       "aside": aside_schemas(tenant)}  # fmt: skip
            elif opts["discard"]:
                restore_discard(actor=actor, tenant=tenant, schema_name=opts["discard"])
                out = {"discarded": opts["discard"]}
            else:
                out = backup_restore(
                    actor=actor, tenant=tenant, backup_id=opts["backup"], swap=opts["swap"]
                ).as_dict()
        except BackupError as error:
            raise CommandError(str(error)) from error
        if opts["json"]:
            self.stdout.write(json.dumps(out))
        else:
            for key, value in out.items():
                self.stdout.write(f"{key}: {value}")
