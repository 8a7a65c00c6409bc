"""Branded error pages: 400, 403, 404, 405, 409, 413, 429 and 500 in the site's layout.

``error_page`` is the one way a view answers with an error: an HTML page in the
workspace's (or the public site's) layout and the user's language with a way back,
or RFC 9457 problem+json when the client asked for JSON. Both URLConfs point their
``handler400/403/404/500`` here, and ``ErrorPageMiddleware`` dresses the bare 405
that ``require_http_methods`` answers.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import gettext as _

from . import context
from .errors import ReadOnlyError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        403: _("Access denied"),
        404: _("Page not found"),
        405: _("Not possible here"),
        409: _("Not available right now"),
        413: _("Too large"),
        429: _("Too many requests"),
        500: _("Something went wrong"),
    }


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Go back, reload the page and try again."),
        403: _("You do not have permission to open this page or do this."),
        404: _("There is nothing at this address. Check the link, or start again from home."),
        405: _("This page cannot be used that way. Go back and use the page's own buttons."),
        409: _("This cannot be done in its current state."),
        413: _("What you sent is larger than this site accepts."),
        429: _("Too many requests from your network. Please wait a while and try again."),
        500: _(
            "An unexpected error happened on our side and was reported. "
            "Please try again in a moment."
        ),
    }


def wants_json(request: HttpRequest) -> bool:
    """Whether the client asked for JSON (``Accept: application/json`` or problem+json)."""
    accept = request.headers.get("Accept", "")
    return "application/json" in accept or PROBLEM_JSON in accept


def problem(status: int, detail: str, *, title: str | None = None, **extra) -> JsonResponse:
    """An RFC 9457 problem document; ``extra`` members are added as they are."""
    body = {
        "type": "about:blank",
        "title": title or _titles().get(status, ""),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JsonResponse(body, status=status, content_type=PROBLEM_JSON)


def error_page(
    request: HttpRequest, status: int, message: str | None = None, *, title: str | None = None
) -> HttpResponse:
    """The error ``status`` as a page (or problem+json), with ``message`` as the reason."""
    title = str(title or _titles().get(status, _("Something went wrong")))
    message = str(message or _messages().get(status, ""))
    if wants_json(request):
        return problem(status, message, title=title)
    request_id = context.current().request_id
    ctx = {"status": status, "title": title, "message": message, "request_id": request_id}
    try:
        html = render_to_string("errors/error.html", ctx, request=request)
    except Exception:
        # The layout needs the database (workspace, user); a page must come out anyway.
        logger.exception("the error page could not be rendered in the layout")
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f"</title></head><body><main><h1>{escape(title)}</h1><p>{escape(message)}</p>"
            f'<p><a href="/">{escape(_("Go to the start page"))}</a></p></main></body></html>'
        )
    return HttpResponse(html, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400``; a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413."""
    if isinstance(exception, RequestDataTooBig):
        return error_page(request, 413)
    return error_page(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler403``; a read-only session says so in its own words."""
    message = str(exception) if isinstance(exception, ReadOnlyError) else None
    return error_page(request, 403, message)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``."""
    return error_page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``."""
    return error_page(request, 500)


class ErrorPageMiddleware:
    """Turns the empty 405 of ``require_http_methods`` into the branded page (``Allow`` kept)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            page = error_page(request, 405)
            page["Allow"] = response["Allow"]
            return page
        return response
