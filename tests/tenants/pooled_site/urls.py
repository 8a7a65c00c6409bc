"""Probe views: ``/atomic/`` reads in one transaction (as a service does),
``/autocommit/`` runs each statement on its own (as views do)."""

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

from .probe import visible_rows


def atomic_view(request: HttpRequest) -> JsonResponse:
    with transaction.atomic():
        return JsonResponse(visible_rows())


def autocommit_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(visible_rows())


urlpatterns = [path("atomic/", atomic_view), path("autocommit/", autocommit_view)]
