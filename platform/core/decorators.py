"""View decorators shared by every package's views."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def role_required(
    check: Callable[[object], bool],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: anonymous visitors go to sign-in, others need ``check(principal)``
    (a permission predicate of ``accounts.selectors``). The service checks again: this
    refuses a forbidden page before any work (an upload before a byte is spooled)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(getattr(request, "principal", request.user)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
