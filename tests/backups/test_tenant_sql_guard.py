"""Tenant SQL never names its own schema nor pins search_path: a restore loads a
workspace under another name and renames it, and such SQL would then read the old
schema (or none). The guard is proved on a planted offender too."""

import pytest
from django.db import connection

from backups.guard import restore_blockers
from tenants.models import SpareSchema


@pytest.mark.django_db
def test_every_tenant_and_spare_schema_is_restorable_under_another_name():
    from tenants.models import Tenant

    names = list(Tenant.objects.values_list("schema_name", flat=True))
    names += list(SpareSchema.objects.values_list("schema_name", flat=True))
    assert len(names) >= 3
    for name in names:
        assert restore_blockers(name) == [], name


@pytest.mark.django_db
def test_the_guard_finds_self_references_and_pinned_search_paths():
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA t_guardprobe")
        cursor.execute("CREATE TABLE t_guardprobe.item (id int, note text DEFAULT 't_guardprobe')")
        cursor.execute(
            "CREATE FUNCTION t_guardprobe.count_items() RETURNS bigint LANGUAGE sql "
            "AS $$ SELECT count(*) FROM t_guardprobe.item $$"
        )
        cursor.execute(
            "CREATE FUNCTION t_guardprobe.pinned() RETURNS int LANGUAGE sql "
            "SET search_path = t_guardprobe AS $$ SELECT 1 $$"
        )
        cursor.execute(
            "CREATE VIEW t_guardprobe.labelled AS SELECT id, 't_guardprobe' AS origin "
            "FROM t_guardprobe.item"
        )
        cursor.execute("CREATE VIEW t_guardprobe.plans AS SELECT id FROM public.billing_plan")
    found = restore_blockers("t_guardprobe")
    assert any("count_items() names schema" in f for f in found), found
    assert any("pinned() pins search_path" in f for f in found), found
    assert any("view labelled names schema" in f for f in found), found
    assert any("default of item.note" in f for f in found), found
    assert any("depends on another schema" in f and "billing_plan" in f for f in found), found
