"""CI refuses a migration that the code still running could not live with (releases
migrate before the new code rolls out: expand now, contract a release later).

django-migration-linter reads each migration's SQL from ``sqlmigrate``; under
django-tenants that SQL depends on the schema: on public, the router turns every
operation of a tenant-only app into a no-op, and the stock linter passes anything
there. ``TenantAwareLinter`` asks for a tenant app's SQL on a tenant schema.
"""

import shutil
import sys

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django_migration_linter import MigrationLinter

FIRST_PARTY = ["tenants", "billing", "accounts", "audit", "uploads", "console"]

# Released before this check existed, each reviewed: (app, migration) -> why it is safe.
REVIEWED = {
    ("audit", "0002_chain_links_and_append_only"): (
        "NOT NULL columns on audit tables made in the same first release, before any "
        "code ran against them"
    ),
}


def _labels(modules: list[str]) -> set[str]:
    return {c.label for c in apps.get_app_configs() if c.name in modules}


class TenantAwareLinter(MigrationLinter):
    """The linter, reading a tenant-only app's SQL on a (hypothetical) tenant schema."""

    def get_sql(self, app_label: str, migration_name: str) -> list[str]:
        tenant_only = _labels(settings.TENANT_APPS) - _labels(settings.SHARED_APPS)
        if app_label in tenant_only:
            connection.set_schema("migration_lint")  # search_path only; never created
        try:
            return super().get_sql(app_label, migration_name)
        finally:
            connection.set_schema_to_public()


def lint(linter_class, apps_: list[str], ignore: set = frozenset()) -> MigrationLinter:
    linter = linter_class(
        include_apps=apps_,
        no_cache=True,
        ignore_name=[name for _app, name in ignore],
    )
    linter.lint_all_migrations()
    return linter


@pytest.mark.django_db
def test_no_migration_breaks_the_running_code(capsys):
    linter = lint(TenantAwareLinter, FIRST_PARTY, set(REVIEWED))
    report = capsys.readouterr().out
    assert not linter.has_errors, (
        "A migration would break the code still running during a release. Split it: add "
        "(nullable, or with a db_default) now, drop or rename in a later release; see "
        "deploy/README.md, 'Release'.\n" + report
    )
    assert linter.nb_total - linter.nb_ignored >= 8  # it did lint our migrations


@pytest.fixture
def uploads_with_a_breaking_migration(tmp_path, settings):
    """uploads' migrations plus one that drops and renames columns old code still uses."""
    package = tmp_path / "lint_probe_uploads"
    shutil.copytree(apps.get_app_config("uploads").path + "/migrations", package)
    (package / "0002_breaking.py").write_text(
        "from django.db import migrations\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('uploads', '0001_initial')]\n"
        "    operations = [\n"
        "        migrations.RemoveField('document', 'signature'),\n"
        "        migrations.RenameField('document', 'sha256', 'checksum'),\n"
        "    ]\n"
    )
    sys.path.insert(0, str(tmp_path))
    settings.MIGRATION_MODULES = {"uploads": "lint_probe_uploads"}
    yield "0002_breaking"
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("lint_probe_uploads")]:
        del sys.modules[name]


@pytest.mark.django_db
def test_a_breaking_tenant_migration_is_refused(uploads_with_a_breaking_migration, capsys):
    assert lint(TenantAwareLinter, ["uploads"]).has_errors
    report = capsys.readouterr().out
    assert f"(uploads, {uploads_with_a_breaking_migration})... ERR" in report
    assert "DROPPING columns" in report and "RENAMING columns" in report
    # What the stock linter makes of it under django-tenants: nothing to see.
    assert not lint(MigrationLinter, ["uploads"]).has_errors
