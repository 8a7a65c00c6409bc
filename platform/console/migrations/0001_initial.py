import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

# The fleet search (console.selectors.fleet_search) is ILIKE '%term%' over workspace
# names, slugs, owner emails and domains: trigram indexes keep it fast at 10,000+
# workspaces. They index tenants' tables, but only the console searches them this way.
TRIGRAM_INDEXES = [
    ("console_tenant_name_trgm", "tenants_tenant", "name"),
    ("console_tenant_slug_trgm", "tenants_tenant", "slug"),
    ("console_tenant_owner_trgm", "tenants_tenant", "owner_email"),
    ("console_domain_trgm", "tenants_domain", "domain"),
]



class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tenants", "0002_tenant_plan"),
    ]

    operations = [
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
                    models.Index(fields=["seats_used"], name="console_usage_seats"),
                    models.Index(fields=["storage_bytes"], name="console_usage_storage"),
                    models.Index(fields=["last_activity_at"], name="console_usage_activity"),
                    models.Index(
                        condition=models.Q(("stale_since__isnull", False)),
                        fields=["stale_since"],
                        name="console_usage_stale",
                    ),
                ],
            },
        ),
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            reverse_sql=migrations.RunSQL.noop,
        ),
        *[
            migrations.RunSQL(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)",
                reverse_sql=f"DROP INDEX IF EXISTS {name}",
            )
            for name, table, column in TRIGRAM_INDEXES
        ],
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS console_tenant_created ON tenants_tenant (created_at)",
            reverse_sql="DROP INDEX IF EXISTS console_tenant_created",
        ),
    ]
