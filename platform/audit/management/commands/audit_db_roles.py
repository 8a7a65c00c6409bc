"""``manage.py audit_db_roles --owner ROLE --app ROLE [--retention ROLE] [--apply]``.

Prints (or, with ``--apply``, runs in one transaction) the SQL that separates
the owner of the audit tables from the application role, so that the app role
cannot disable the append-only triggers. See ``audit.roles``.
"""

from django.core.management.base import BaseCommand

from core.principal import SYSTEM

from ...roles import role_separation_sql
from ...services import db_roles_separate


class Command(BaseCommand):
    help = "Give the audit tables to an owner role; the app role keeps SELECT and INSERT."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--owner", required=True, help="Role that owns and migrates.")
        parser.add_argument("--app", required=True, help="Role the web and worker processes use.")
        parser.add_argument("--retention", help="Role that runs audit_retention (DELETE).")
        parser.add_argument("--apply", action="store_true", help="Run the SQL, not just print.")

    def handle(self, *args, owner, app, retention=None, apply=False, **options) -> None:
        if not apply:
            statements = role_separation_sql(owner=owner, app=app, retention=retention)
            self.stdout.write(";\n".join(statements) + ";")
            return
        statements = db_roles_separate(actor=SYSTEM, owner=owner, app=app, retention=retention)
        self.stdout.write(f"{len(statements)} statements applied.")
