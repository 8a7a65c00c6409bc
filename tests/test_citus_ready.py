"""Keeps the schema Citus-ready (deploy/scaling.md), on plain PostgreSQL too.

With schema-based sharding each tenant schema lives whole on one worker node, so:
- a tenant table may reference a public table only if that table is a Citus reference
  table (``tenants.citus.REFERENCE_TABLES``), and never a table of another schema;
- no public (shared-only) table references a tenant table;
- application SQL never names a tenant schema, and never qualifies a table with a
  schema chosen at run time (a cross-tenant join): the search_path picks the tenant.
  Only the modules that operate on the fleet as a whole compose such SQL, one schema
  per statement (``FLEET_MODULES``).
"""

import ast
import itertools
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import isolate_apps

from tenants import citus, schemas

ROOT = Path(__file__).resolve().parents[1]
APP_FOLDERS = ["tenants", "billing", "uploads", "platform"]
# Each statement they build names one schema; reviewed for Citus (fleet_migrations'
# applied-migrations read is a UNION ALL of single-schema reads, routed arm by arm).
FLEET_MODULES = {"tenants/schemas.py", "tenants/fleet_migrations.py", "tenants/citus.py"}
# Reviewed reads across tenants: a UNION ALL of single-schema arms (Citus plans each arm
# on its node), never a join between two tenants' tables.
FLEET_READS = {("tenants/selectors.py", "workspaces_for_email")}

TENANT_SCHEMA_NAME = re.compile(r"\b(?:t|spare)_[a-z0-9_]+\s*\.\s*\"?[a-z_]", re.IGNORECASE)
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|JOIN|FROM|INTO|TABLE)\b", re.IGNORECASE)


def _tenant_labels() -> set[str]:
    return schemas.tenant_app_labels()


def foreign_key_problems(models, tenant_labels: set[str], reference_tables) -> list[str]:
    """Relations that a tenant schema placed on one worker could not keep."""
    problems = []
    for model in models:
        in_tenant = model._meta.app_label in tenant_labels
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model):
                continue
            if not getattr(field, "db_constraint", True):
                continue
            target = field.related_model
            target_in_tenant = target._meta.app_label in tenant_labels
            name = f"{model._meta.label}.{field.name} -> {target._meta.label}"
            if in_tenant and not target_in_tenant and target._meta.db_table not in reference_tables:
                problems.append(f"tenant table references a public table: {name}")
            if not in_tenant and target_in_tenant and model._meta.app_label not in tenant_labels:
                problems.append(f"public table references a tenant table: {name}")
    return problems


def _nodes_outside(tree: ast.AST, skip_functions: set[str]):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in skip_functions:
            continue
        yield node
        yield from _nodes_outside(node, skip_functions)


def sql_problems(source: str, skip_functions: frozenset[str] = frozenset()) -> list[str]:
    """SQL in ``source`` that names a tenant schema or qualifies a table by a run-time schema."""
    problems = []
    for node in _nodes_outside(ast.parse(source), set(skip_functions)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if SQL_WORDS.search(text) and TENANT_SCHEMA_NAME.search(text):
                problems.append(f"line {node.lineno}: names a tenant schema: {text[:60]!r}")
        elif isinstance(node, ast.JoinedStr):
            parts = node.values
            literal = "".join(p.value for p in parts if isinstance(p, ast.Constant))
            if not SQL_WORDS.search(literal):
                continue
            for before, after in itertools.pairwise(parts):
                if (
                    isinstance(before, ast.FormattedValue)
                    and isinstance(after, ast.Constant)
                    and re.match(r'\.\s*"?[a-z_]', str(after.value), re.IGNORECASE)
                ):
                    problems.append(f"line {node.lineno}: a table in a run-time schema")
    return problems


def _app_sources():
    for folder in APP_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in FLEET_MODULES:
                continue
            yield relative, path.read_text()


def test_no_relation_crosses_from_a_tenant_schema_to_public():
    problems = foreign_key_problems(apps.get_models(), _tenant_labels(), citus.REFERENCE_TABLES)
    assert problems == []


def test_application_sql_names_no_tenant_schema():
    problems = []
    for path, source in _app_sources():
        allowed = frozenset(name for module, name in FLEET_READS if module == path)
        problems += [f"{path} {problem}" for problem in sql_problems(source, allowed)]
    assert problems == []


@pytest.mark.django_db
def test_tenant_schemas_have_no_foreign_key_out_of_their_schema(tenant_a):
    """The real database: every FK of a tenant schema stays inside it, or points at a
    reference table in public."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conrelid::regclass::text, f.relname, fn.nspname "
            "FROM pg_constraint c JOIN pg_class f ON f.oid = c.confrelid "
            "JOIN pg_namespace fn ON fn.oid = f.relnamespace "
            "WHERE c.contype = 'f' AND c.connamespace = %s::regnamespace "
            "AND fn.nspname <> %s",
            [tenant_a.schema_name, tenant_a.schema_name],
        )
        outside = [
            row
            for row in cursor.fetchall()
            if not (row[2] == "public" and row[1] in citus.REFERENCE_TABLES)
        ]
        cursor.execute(
            "SELECT count(*) FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = %s::regnamespace",
            [tenant_a.schema_name],
        )
        inside = cursor.fetchone()[0]
    assert inside > 0  # the query does see the tenant's foreign keys
    assert outside == []


# -- the checks catch what they are for ------------------------------------------------


def test_the_sql_check_catches_a_named_tenant_schema_and_a_cross_tenant_join():
    bad = (
        'cursor.execute("SELECT * FROM t_acme.accounts_user")\n'
        'sql = f"SELECT 1 FROM {a}.uploads_document d JOIN {b}.uploads_document e ON true"\n'
    )
    found = sorted(sql_problems(bad))
    assert len(found) == 3
    assert "names a tenant schema" in found[0] and "run-time schema" in found[1]
    in_function = "def find():\n    " + bad.replace("\n", "\n    ")
    assert len(sql_problems(in_function)) == 3
    assert sql_problems(in_function, frozenset({"find"})) == []
    assert sql_problems('cursor.execute("SELECT 1 FROM accounts_user")\nx = f"{a}.{b}"\n') == []


def test_the_relation_check_catches_a_tenant_table_pointing_at_public():
    tenant_model = apps.get_model("uploads", "Document")
    public_model = apps.get_model("tenants", "Tenant")
    labels = _tenant_labels()
    assert foreign_key_problems([tenant_model], labels - {"accounts"}, frozenset())
    assert foreign_key_problems([tenant_model], labels, frozenset()) == []
    # tenants.Tenant -> billing.Plan: both public, fine.
    assert foreign_key_problems([public_model], labels, frozenset()) == []


@pytest.mark.django_db
@isolate_apps("tenants")
def test_added_columns_name_their_constraints():
    """Citus refuses ADD COLUMN with an unnamed CHECK or UNIQUE (tenants/pg_backend)."""

    class Probe(models.Model):
        class Meta:
            app_label = "tenants"
            db_table = "probe"

        def __str__(self) -> str:
            return "probe"

    count = models.PositiveIntegerField(null=True)
    count.set_attributes_from_name("count")
    code = models.CharField(max_length=8, unique=True, null=True)
    code.set_attributes_from_name("code")
    with connection.schema_editor(collect_sql=True) as editor:
        editor.add_field(Probe, count)
        editor.add_field(Probe, code)
    added = [sql for sql in editor.collected_sql if "ADD COLUMN" in sql]
    assert len(added) == 2
    assert re.search(r'ADD COLUMN "count" .*CONSTRAINT "probe_count_\w+_check" CHECK', added[0])
    assert re.search(r'ADD COLUMN "code" .*CONSTRAINT "probe_code_\w+_uniq" UNIQUE', added[1])
    # CREATE TABLE keeps Django's own (inline, unnamed) form: Citus accepts it there.
    with connection.schema_editor(collect_sql=True) as editor:
        editor.create_model(Probe)
    assert "CONSTRAINT" not in " ".join(editor.collected_sql)
