"""``Idempotency-Key`` on POST: the same key with the same request gets the first
response again (``Idempotent-Replayed: true``), with another request a 409; kept
``API_IDEMPOTENCY_SECONDS`` (24 hours). Keys are per workspace and grant.

The first request claims the key (SET NX) before doing anything, so two concurrent
retries cannot both run: the second gets a 409 ``idempotency-in-progress``. Only
answers below 500 are kept; a failure frees the key for a retry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.utils.translation import gettext as _
from redis.exceptions import RedisError
from rest_framework.response import Response

from core.workspace import current as current_workspace

from .limits import redis_client
from .problems import Problem

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(r"[!-~]{1,255}")  # visible ASCII, MAX_KEY_LENGTH at most
_CLAIM_SECONDS = 120


def fingerprint(request) -> str:
    """What makes two requests "the same": method, path, query and body. A multipart
    body counts by its fields and its files' names, sizes and SHA-256 (the boundary
    differs between retries)."""
    digest = hashlib.sha256()
    digest.update(
        f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}".encode()
    )
    if request.content_type and request.content_type.startswith("multipart/"):
        fields = sorted((k, v) for k in request.POST for v in request.POST.getlist(k))
        files = sorted(
            (name, f.name, f.size, getattr(f, "sha256", ""))
            for name in request.FILES
            for f in request.FILES.getlist(name)
        )
        digest.update(json.dumps([fields, files]).encode())
    else:
        digest.update(json.dumps(request.data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _store_key(request, key: str) -> str:
    principal = request.principal
    user = getattr(principal, "user", None)
    grant = f"{principal.app_id}:{user.pk if user is not None else '-'}"
    key_digest = hashlib.sha256(key.encode()).hexdigest()
    return f"api:idem:{current_workspace().schema_name}:{grant}:{key_digest}"


def idempotent(method: Callable) -> Callable:
    """Decorate an APIView's ``post``."""

    @wraps(method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return method(self, request, *args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            raise Problem(
                "validation",
                _("The Idempotency-Key header must be 1 to %(max)d visible ASCII characters.")
                % {"max": MAX_KEY_LENGTH},
            )
        print_ = fingerprint(request)
        store = _store_key(request, key)
        try:
            client = redis_client()
            existing = client.get(store)
            if existing is None and client.set(
                store, json.dumps({"fingerprint": print_, "pending": True}), nx=True,
                ex=_CLAIM_SECONDS,
            ):  # fmt: skip
                existing = None
                claimed = True
            else:
                existing = existing or client.get(store)
                claimed = False
        except RedisError as exc:
            log.warning("idempotency store unreachable (%s)", type(exc).__name__)
            raise Problem(
                "storage-unavailable",
                _("Idempotency keys cannot be checked at the moment; try again shortly."),
                retry_after=5,
            ) from exc
        if not claimed:
            saved = json.loads(existing) if existing else {"pending": True, "fingerprint": print_}
            if saved.get("fingerprint") != print_:
                raise Problem(
                    "idempotency-key-reused",
                    _("This Idempotency-Key was used with a different request."),
                )
            if saved.get("pending"):
                raise Problem(
                    "idempotency-in-progress",
                    _("A request with this Idempotency-Key is still being processed."),
                    retry_after=1,
                )
            response = Response(saved["body"], status=saved["status"])
            for name, value in saved.get("headers", {}).items():
                response[name] = value
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = method(self, request, *args, **kwargs)
        except BaseException:
            _forget(store)
            raise
        if response.status_code >= 500:
            _forget(store)
            return response
        kept_headers = {
            name: response[name] for name in ("Location", "Content-Type") if name in response
        }
        try:
            client.set(
                store,
                json.dumps(
                    {
                        "fingerprint": print_,
                        "status": response.status_code,
                        "body": response.data,
                        "headers": kept_headers,
                    },
                    default=str,
                ),
                ex=settings.API_IDEMPOTENCY_SECONDS,
            )
        except RedisError as exc:
            log.warning("idempotent response not kept (%s)", type(exc).__name__)
        return response

    return wrapper


def _forget(store: str) -> None:
    with contextlib.suppress(RedisError):
        redis_client().delete(store)
