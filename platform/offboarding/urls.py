"""The workspace owners' exports page (``config/urls_tenant.py``).

The views are imported by the first request to one of them, not when the workspace's
URLs load: with their forms and the export and backup services they are about 1.5 MB
RSS that a web process serving anything else would carry for good (bench/uploads.py).
"""

from importlib import import_module

from django.http import HttpRequest, HttpResponse
from django.urls import path

app_name = "offboarding"


def _view(name: str):
    """``offboarding.views.<name>``, imported when first called (the views carry no
    attribute the middleware reads, such as ``csrf_exempt``, so a plain wrapper is the
    same view)."""

    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return getattr(import_module("offboarding.views"), name)(request, *args, **kwargs)

    view.__name__ = view.__qualname__ = name
    return view


urlpatterns = [
    path("settings/exports/", _view("workspace_exports"), name="exports"),
    path(
        "settings/exports/<uuid:export_id>/download/",
        _view("workspace_download"),
        name="download",
    ),
]
