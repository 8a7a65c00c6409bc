"""The support pages of the vendor console (``/console/support/`` on the public host)."""

from django.urls import path

from . import views

app_name = "support_console"

urlpatterns = [
    path("", views.console_index, name="index"),
    path("start/", views.console_start, name="start"),
    path("<uuid:pk>/", views.console_detail, name="detail"),
    path("<uuid:pk>/open/", views.console_open, name="open"),
    path("<uuid:pk>/end/", views.console_end, name="end"),
]
