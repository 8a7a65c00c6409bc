from django.apps import AppConfig


class FleetBenchConfig(AppConfig):
    name = "_fleetapp"
    label = "benchfleet"
    default_auto_field = "django.db.models.BigAutoField"
