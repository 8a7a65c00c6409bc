"""``support_session`` for every template: the running support session of this request
(the banner in ``base.html``), else None."""

from django.http import HttpRequest


def support_session(request: HttpRequest) -> dict:
    row = getattr(request, "support_session", None)
    if row is None:
        return {"support_session": None}
    from .selectors import ends_at

    return {"support_session": row, "support_session_ends_at": ends_at(row)}
