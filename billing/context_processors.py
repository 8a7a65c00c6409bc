"""Template context from billing: the banner's facts (trial days left, payment overdue).

Read lazily and from the cache (``selectors.notice``): a page that does not show the
banner pays nothing, one that does pays no SQL on a cache hit.
"""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from core.workspace import current

from . import selectors


def billing_notice(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    workspace = current()
    if (
        workspace.is_public
        or workspace.tenant_id is None
        or not getattr(user, "is_authenticated", False)
    ):
        return {}
    tenant_id = workspace.tenant_id
    return {"billing_notice": SimpleLazyObject(lambda: selectors.notice(tenant_id))}
