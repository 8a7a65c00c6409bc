"""Can a tenant schema be restored under another name? What would stop it.

A restore loads a workspace under a new name and renames it into place. Tables,
views, defaults and constraints refer to each other by OID and survive that; what
does not is text: a function body that names its schema, or a function that pins
``search_path`` (it would read the old schema, or nothing), and any object that
depends on another schema's objects (pg_dump -n leaves those out). Tenant SQL must
never do either; ``tests/backups/test_tenant_sql_guard.py`` holds every tenant
schema to it.
"""

from __future__ import annotations

from django.db import connection, transaction

from tenants import schemas

_OTHER_SCHEMA_DEPENDENCIES = """
    WITH dep AS (
        SELECT d.*,
            CASE d.classid
                WHEN 'pg_class'::regclass THEN
                    (SELECT relnamespace FROM pg_class WHERE oid = d.objid)
                WHEN 'pg_rewrite'::regclass THEN
                    (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                     WHERE r.oid = d.objid)
                WHEN 'pg_constraint'::regclass THEN
                    (SELECT connamespace FROM pg_constraint WHERE oid = d.objid)
                WHEN 'pg_attrdef'::regclass THEN
                    (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
                     WHERE a.oid = d.objid)
                WHEN 'pg_proc'::regclass THEN
                    (SELECT pronamespace FROM pg_proc WHERE oid = d.objid)
                WHEN 'pg_type'::regclass THEN
                    (SELECT typnamespace FROM pg_type WHERE oid = d.objid)
            END AS source_ns,
            CASE d.refclassid
                WHEN 'pg_class'::regclass THEN
                    (SELECT relnamespace FROM pg_class WHERE oid = d.refobjid)
                WHEN 'pg_proc'::regclass THEN
                    (SELECT pronamespace FROM pg_proc WHERE oid = d.refobjid)
                WHEN 'pg_type'::regclass THEN
                    (SELECT typnamespace FROM pg_type WHERE oid = d.refobjid)
            END AS target_ns
        FROM pg_depend d
        WHERE d.deptype IN ('n', 'a')
    )
    SELECT DISTINCT pg_describe_object(classid, objid, objsubid) || ' -> ' ||
           pg_describe_object(refclassid, refobjid, refobjsubid)
    FROM dep
    WHERE source_ns = %(oid)s AND target_ns <> %(oid)s
      AND target_ns NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
"""


def restore_blockers(schema: str) -> list[str]:
    """Everything in ``schema`` that names it or pins ``search_path``; [] when clean."""
    schemas.check_schema_name(schema)
    found: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
        row = cursor.fetchone()
        if row is None:
            raise ValueError(f"no schema {schema}")
        oid = row[0]
        cursor.execute(
            "SELECT p.oid::regprocedure::text, p.prosrc, p.proconfig FROM pg_proc p "
            "WHERE p.pronamespace = %s",
            [oid],
        )
        for name, source, config in cursor.fetchall():
            if schema in (source or ""):
                found.append(f"function {name} names schema {schema} in its body")
            if any(item.lower().startswith("search_path=") for item in config or []):
                found.append(f"function {name} pins search_path")
        # Deparsed with the schema first on the path: only literal mentions remain.
        cursor.execute(f"SET LOCAL search_path TO {schemas.quote(schema)}")
        cursor.execute(
            "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
            "WHERE c.relnamespace = %s AND c.relkind IN ('v', 'm')",
            [oid],
        )
        for view, definition in cursor.fetchall():
            if schema in definition:
                found.append(f"view {view} names schema {schema}")
        cursor.execute(
            "SELECT c.relname, a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
            "JOIN pg_class c ON c.oid = d.adrelid "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE c.relnamespace = %s",
            [oid],
        )
        for table, column, expression in cursor.fetchall():
            if schema in expression:
                found.append(f"default of {table}.{column} names schema {schema}")
        cursor.execute(
            "SELECT t.tgname, p.oid::regprocedure::text, n.nspname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE c.relnamespace = %s AND NOT t.tgisinternal",
            [oid],
        )
        for trigger, function, namespace in cursor.fetchall():
            if namespace not in (schema, "pg_catalog"):
                found.append(f"trigger {trigger} calls {namespace}.{function} outside the schema")
        cursor.execute(_OTHER_SCHEMA_DEPENDENCIES, {"oid": oid})
        found += [f"depends on another schema: {line}" for (line,) in cursor.fetchall()]
        cursor.execute("SET LOCAL search_path TO DEFAULT")
    connection.set_schema_to_public()
    return found
