"""The measured view: one query on the users table of the current schema."""

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse


def count_users(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(get_user_model().objects.count()), content_type="text/plain")
