"""``manage.py audit_actions``: the declared audit actions, as the README's Markdown table."""

from django.core.management.base import BaseCommand

from ...actions_table import readme_section


class Command(BaseCommand):
    help = "Print every declared audit action as a Markdown table (for the audit README)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(readme_section())
