import django.contrib.postgres.indexes
import django.db.models.deletion
import django.db.models.expressions
import django.utils.timezone
from django.db import migrations, models

SEARCH_SQL = "lower(concat_ws(' ', t.name, t.slug, t.owner_email, (SELECT string_agg(d.domain, ' ') FROM tenants_domain d WHERE d.tenant_id = t.id)))"  # noqa: E501


def backfill(apps, schema_editor):
    """A row for every existing workspace, its search text set and its figures marked
    stale (the every-minute task measures them)."""
    schema_editor.execute(
        "INSERT INTO console_workspaceusage (tenant_id, search, active_staff, "
        "pending_invitations, seats_used, storage_bytes, documents_count, admins, "
        f"stale_since, refreshed_at) SELECT t.id, {SEARCH_SQL}, 0, 0, 0, 0, 0, '[]'::jsonb, "
        "now(), now() FROM tenants_tenant t ON CONFLICT (tenant_id) DO NOTHING"
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tenants", "0002_tenant_plan"),
    ]

    operations = [
        # The fleet search's trigram index (trusted extension: the database owner may).
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.CreateModel(
            name="WorkspaceUsage",
            fields=[
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="usage",
                        serialize=False,
                        to="tenants.tenant",
                    ),
                ),
                ("search", models.TextField(blank=True, default="")),
                ("active_staff", models.PositiveIntegerField(default=0)),
                ("pending_invitations", models.PositiveIntegerField(default=0)),
                ("seats_used", models.PositiveIntegerField(default=0)),
                ("storage_bytes", models.BigIntegerField(default=0)),
                ("documents_count", models.PositiveIntegerField(default=0)),
                ("last_activity_at", models.DateTimeField(blank=True, null=True)),
                ("admins", models.JSONField(blank=True, default=list)),
                ("stale_since", models.DateTimeField(blank=True, null=True)),
                ("refreshed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.GinIndex(
                        fields=["search"], name="console_usage_search", opclasses=["gin_trgm_ops"]
                    ),
                    models.Index(fields=["seats_used", "tenant"], name="console_usage_seats"),
                    models.Index(fields=["storage_bytes", "tenant"], name="console_usage_storage"),
                    models.Index(
                        django.db.models.expressions.OrderBy(
                            django.db.models.expressions.F("last_activity_at"),
                            descending=True,
                            nulls_last=True,
                        ),
                        django.db.models.expressions.OrderBy(
                            django.db.models.expressions.F("tenant"), descending=True
                        ),
                        name="console_usage_activity",
                    ),
                    models.Index(
                        condition=models.Q(("stale_since__isnull", False)),
                        fields=["stale_since"],
                        name="console_usage_stale",
                    ),
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
