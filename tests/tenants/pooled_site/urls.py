"""Probe views: ``/atomic/`` runs in the request's transaction (ATOMIC_REQUESTS in
transaction-pooling mode), ``/autocommit/`` runs each statement on its own."""

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

from .probe import visible_rows


def atomic_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(visible_rows())


@transaction.non_atomic_requests
def autocommit_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(visible_rows())


urlpatterns = [path("atomic/", atomic_view), path("autocommit/", autocommit_view)]
