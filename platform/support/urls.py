"""The support pages of a workspace host (``config/urls_tenant.py``)."""

from django.urls import path

from . import views

app_name = "support"

urlpatterns = [
    path("settings/support/", views.workspace_settings, name="settings"),
    path("settings/support/<uuid:pk>/end/", views.workspace_end, name="workspace_end"),
    path("support/handoff/", views.handoff, name="handoff"),
    path("support/end/", views.end_now, name="end"),
    path("support/ended/", views.ended, name="ended"),
]
