"""Back up workspaces now: ``manage.py backup_workspace --slug acme [--json]`` or ``--all``."""

import json

from django.core.management.base import BaseCommand, CommandError

from backups.services import BackupError, backup_create, backups_prune
from tenants.selectors import Tenant

from ._common import command_actor, tenant_for


class Command(BaseCommand):
    help = "Back up one workspace (--slug) or every workspace holding data (--all)."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--slug")
        target.add_argument("--all", action="store_true")
        parser.add_argument("--prune", action="store_true", help="apply retention afterwards")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, slug=None, all=False, prune=False, json=False, **options):
        actor = command_actor("backup_workspace")
        if all:
            tenants = list(
                Tenant.objects.filter(state__in=[Tenant.State.ACTIVE, Tenant.State.SUSPENDED])
            )
        else:
            tenants = [tenant_for(slug)]
        done = []
        for tenant in tenants:
            try:
                backup = backup_create(actor=actor, tenant=tenant, reason="manual")
            except BackupError as error:
                raise CommandError(f"{tenant.slug}: {error}") from error
            pruned = backups_prune(actor=actor, tenant=tenant) if prune else 0
            done.append({
                "slug": tenant.slug, "backup_id": backup.backup_id, "rows": backup.rows,
                "objects": backup.object_count, "object_bytes": backup.object_bytes,
                "objects_copied": backup.objects_copied, "dump_bytes": backup.dump_bytes,
                "seconds": round(backup.seconds, 3), "pruned": pruned,
            })  # fmt: skip
        if json:
            self.stdout.write(_dumps(done))
        else:
            for item in done:
                self.stdout.write(
                    f"{item['slug']}: backup {item['backup_id']} ({item['rows']} rows, "
                    f"{item['objects']} objects, {item['seconds']} s)"
                )


def _dumps(value) -> str:
    return json.dumps(value)
