"""The console's offboarding pages, at ``/console/offboarding/`` on the public host."""

from django.urls import path

from . import views

app_name = "offboarding_console"

urlpatterns = [
    path("w/<int:pk>/", views.console_workspace, name="workspace"),
    path("w/<int:pk>/export/", views.console_export, name="export"),
    path("w/<int:pk>/delete/", views.console_schedule, name="schedule"),
    path("w/<int:pk>/restore/", views.console_restore, name="restore"),
    path("exports/<uuid:export_id>/download/", views.console_download, name="download"),
]
