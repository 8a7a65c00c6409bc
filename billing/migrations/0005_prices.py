"""The plans on sale and their prices per seat: data, synced to Stripe by
``manage.py sync_plans`` (which sets the Stripe ids)."""

from django.db import migrations

# plan code -> (on sale, {interval: cents per seat})
PRICES = {
    "trial": (False, {}),
    "team": (True, {"month": 800, "year": 8000}),
    "business": (True, {"month": 1500, "year": 15000}),
}


def create_prices(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Price = apps.get_model("billing", "Price")
    for code, (public, amounts) in PRICES.items():
        plan = Plan.objects.filter(code=code).first()
        if plan is None:
            continue
        if plan.is_public != public:
            plan.is_public = public
            plan.save(update_fields=["is_public"])
        for interval, cents in amounts.items():
            Price.objects.update_or_create(
                plan=plan, interval=interval, defaults={"unit_amount": cents, "currency": "eur"}
            )


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_billing_accounts")]

    operations = [migrations.RunPython(create_prices, migrations.RunPython.noop)]
