"""RFC 9457 problem details for every error of the API, each with a stable ``type``.

Clients branch on ``type`` (``urn:atrium:problem:<name>``), never on ``title`` or
``detail`` (those are for people, in the reader's language).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import ReadOnlyError

PROBLEM_JSON = "application/problem+json"
PREFIX = "urn:atrium:problem:"

# name -> (status, title): the stable catalogue, documented in README and the schema.
TYPES: dict[str, int] = {
    "validation": 400,
    "bad-cursor": 400,
    "unauthenticated": 401,
    "invalid-token": 401,
    "forbidden": 403,
    "insufficient-scope": 403,
    "read-only": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "not-acceptable": 406,
    "conflict": 409,
    "idempotency-key-reused": 409,
    "idempotency-in-progress": 409,
    "not-available": 409,
    "too-large": 413,
    "unsupported-media-type": 415,
    "rate-limited": 429,
    "storage-unavailable": 503,
}


class Problem(exceptions.APIException):
    """An API error of a catalogued ``name`` with a detail for people; ``extra``
    members (``errors``, ``retry_after``) go into the document as they are."""

    def __init__(self, name: str, detail: str, **extra) -> None:
        self.name = name
        self.status_code = TYPES[name]
        self.extra = extra
        super().__init__(detail)


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        401: _("Authentication required"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        406: _("Not acceptable"),
        409: _("Conflict"),
        413: _("Request too large"),
        415: _("Unsupported media type"),
        429: _("Too many requests"),
        500: _("Server error"),
        503: _("Service unavailable"),
    }


def problem_response(name: str, detail: str, *, headers: dict | None = None, **extra) -> Response:
    """A problem document as a DRF response."""
    code = TYPES[name]
    body = {
        "type": PREFIX + name,
        "title": _titles().get(code, ""),
        "status": code,
        "detail": str(detail),
        **extra,
    }
    response = Response(body, status=code, headers=headers, content_type=PROBLEM_JSON)
    return response


def _messages(detail) -> list[str]:
    """DRF's nested error details flattened to readable lines (``field: message``)."""
    if isinstance(detail, dict):
        lines = []
        for field, value in detail.items():
            for message in _messages(value):
                lines.append(message if field == "non_field_errors" else f"{field}: {message}")
        return lines
    if isinstance(detail, list):
        return [line for item in detail for line in _messages(item)]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every error the API answers, as a problem document."""
    headers: dict[str, str] = {}
    if isinstance(exc, Problem):
        retry = exc.extra.get("retry_after")
        if retry is not None:
            headers["Retry-After"] = str(retry)
        return problem_response(exc.name, str(exc.detail), headers=headers, **exc.extra)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return problem_response("not-found", _("There is no such resource in this workspace."))
    if isinstance(exc, ReadOnlyError):
        return problem_response("read-only", str(exc) or _("This access is read-only."))
    if isinstance(exc, PermissionDenied):
        return problem_response("forbidden", str(exc) or _("Your role does not allow this action."))
    if isinstance(exc, DjangoValidationError):
        # Raised by a service: the request was well-formed, the workspace's state refuses
        # it (the last owner, the seat limit, one's own account).
        lines = exc.messages
        return problem_response("conflict", " ".join(lines), errors=lines)
    if isinstance(exc, exceptions.NotAuthenticated):
        return problem_response(
            "unauthenticated",
            _("Send an OAuth2 access token: Authorization: Bearer <token>."),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    if isinstance(exc, exceptions.AuthenticationFailed):
        return problem_response(
            "invalid-token",
            str(exc.detail),
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )
    if isinstance(exc, exceptions.PermissionDenied):
        return problem_response("forbidden", str(exc.detail))
    if isinstance(exc, exceptions.MethodNotAllowed):
        return problem_response("method-not-allowed", str(exc.detail))
    if isinstance(exc, exceptions.NotAcceptable):
        return problem_response("not-acceptable", str(exc.detail))
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return problem_response("unsupported-media-type", str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return problem_response("validation", str(exc.detail), errors=[str(exc.detail)])
    if isinstance(exc, exceptions.ValidationError):
        lines = _messages(exc.detail)
        return problem_response("validation", " ".join(lines), errors=lines)
    if isinstance(exc, exceptions.Throttled):
        return problem_response("rate-limited", str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        code = exc.status_code
        name = next((n for n, s in TYPES.items() if s == code), "validation")
        return problem_response(name, str(exc.detail))
    return None


__all__ = ["PROBLEM_JSON", "TYPES", "Problem", "exception_handler", "problem_response", "status"]
