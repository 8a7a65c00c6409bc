"""The workspace owners' exports page (``config/urls_tenant.py``)."""

from django.urls import path

from . import views

app_name = "offboarding"

urlpatterns = [
    path("settings/exports/", views.workspace_exports, name="exports"),
    path("settings/exports/<uuid:export_id>/download/", views.workspace_download, name="download"),
]
