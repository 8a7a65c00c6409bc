from django.db import migrations

GIB = 1024**3
MIB = 1024**2

PLANS = [
    # code, name, seats, storage, largest file, default
    ("trial", "Trial", 5, 1 * GIB, 100 * MIB, True),
    ("team", "Team", 25, 50 * GIB, 500 * MIB, False),
    ("business", "Business", 250, 500 * GIB, 2 * GIB, False),
]


def create_plans(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for code, name, seats, storage, largest, default in PLANS:
        Plan.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "max_staff": seats,
                "storage_quota_bytes": storage,
                "max_upload_bytes": largest,
                "is_default": default,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
