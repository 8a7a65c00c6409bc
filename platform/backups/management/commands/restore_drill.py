"""Run the restore drill now: ``manage.py restore_drill [--slug acme] [--json]``.

Exits non-zero when the drill fails."""

import json

from django.core.management.base import BaseCommand, CommandError

from backups.selectors import last_drill_result
from backups.services import restore_drill_run

from ._common import command_actor, tenant_for


class Command(BaseCommand):
    help = "Restore a workspace's newest backup aside, verify it, and drop it."

    def add_arguments(self, parser):
        parser.add_argument("--slug")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, slug=None, json=False, **options):
        tenant = tenant_for(slug) if slug else None
        drill = restore_drill_run(actor=command_actor("restore_drill"), tenant=tenant)
        result = last_drill_result()
        self.stdout.write(_dumps(result) if json else f"drill ok={drill.ok} {drill.error}")
        if not drill.ok:
            raise CommandError(f"restore drill failed: {drill.error}")


def _dumps(value) -> str:
    return json.dumps(value)
