"""Cursor pagination by a unique, monotonic key (keyset: no OFFSET, stable under inserts).

The cursor is the last row's key, signed (``django.core.signing``): a cursor that was
altered, or that belongs to another list, is a 400, as is a page size out of range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from .problems import Problem

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
_SALT = "api.cursor"


def page_size_of(params) -> int:
    raw = params.get("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not str(raw).isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise Problem(
            "validation",
            _("page_size must be a whole number from 1 to %(max)d.") % {"max": MAX_PAGE_SIZE},
            errors=[f"page_size: {raw!s:.20}"],
        )
    return int(raw)


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _decode(cursor: str, list_name: str, size: int) -> list[str]:
    try:
        data = signing.loads(cursor, salt=f"{_SALT}:{list_name}")
    except (signing.BadSignature, ValueError, TypeError):
        data = None
    if not isinstance(data, list) or len(data) != size or not all(isinstance(v, str) for v in data):
        raise Problem("bad-cursor", _("This cursor is not valid for this list; start over."))
    return data


def keyset_page(
    rows: QuerySet,
    *,
    params,
    fields: Sequence[str],
    descending: bool = True,
    list_name: str,
) -> tuple[list, str | None]:
    """One page of ``rows`` ordered by ``fields`` (the last one unique) and the cursor
    of the next page (None at the end)."""
    size = page_size_of(params)
    prefix = "-" if descending else ""
    rows = rows.order_by(*(prefix + f for f in fields))
    cursor = params.get("cursor")
    if cursor not in (None, ""):
        values = _decode(str(cursor), list_name, len(fields))
        op = "lt" if descending else "gt"
        # (a, b) < (x, y)  ==  a < x OR (a = x AND b < y)
        condition = Q()
        for index, field in enumerate(fields):
            part = Q(**{f"{field}__{op}": values[index]})
            for before in range(index):
                part &= Q(**{fields[before]: values[before]})
            condition |= part
        try:
            rows = rows.filter(condition)
            found = list(rows[: size + 1])
        except Exception:  # a value of the wrong type for its column
            raise Problem(
                "bad-cursor", _("This cursor is not valid for this list; start over.")
            ) from None
    else:
        found = list(rows[: size + 1])
    more = len(found) > size
    found = found[:size]
    next_cursor = None
    if more and found:
        last = found[-1]
        key = [_encode(_value(last, field)) for field in fields]
        next_cursor = signing.dumps(key, salt=f"{_SALT}:{list_name}")
    return found, next_cursor


def _value(row: Any, field: str) -> Any:
    return row[field] if isinstance(row, dict) else getattr(row, field)


def next_link(request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.query_params.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(request.path) + "?" + urlencode(query, doseq=True)


def paged(request, results: list, cursor: str | None) -> dict:
    """The body of a list: ``results``, ``next`` (a URL) and ``next_cursor``."""
    return {"results": results, "next": next_link(request, cursor), "next_cursor": cursor}
