"""The console's gate for the console pages of the packages below it.

Support sessions (``/console/support/``) and offboarding (``/console/offboarding/``)
mount their own vendor pages; they cannot import the console (it sits above them), so
this middleware gives those pages the console's sign-in, second factor and session
limits (30 minutes idle, 12 hours overall), exactly as ``vendor_required`` gives the
console's own pages. Their views still check the role in the service.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

SUB_CONSOLES = ("/console/support/", "/console/offboarding/")


class SubConsoleGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.gate: Callable[[HttpRequest], HttpResponse | None] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(SUB_CONSOLES):
            if self.gate is None:
                # The console's views (2 MB) load with the first console request, not in
                # every workspace's web process (bench/uploads.py).
                from .views import vendor_required

                self.gate = vendor_required("viewer")(lambda request: None)
            refused = self.gate(request)
            if refused is not None:
                return refused
        return self.get_response(request)
