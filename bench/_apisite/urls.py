"""The workspace URLs plus ``/bench/documents``: the same 20-document list as the API's,
from a plain Django view behind the session (the pages' way)."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.urls import path

import uploads.selectors as selectors
from config.urls_tenant import urlpatterns as tenant_urlpatterns


@login_required
def documents(request):
    rows = selectors.visible_documents().order_by("-created_at", "-id")[:20]
    return JsonResponse(
        {
            "results": [
                {
                    "id": str(d.id), "name": d.name, "size": d.size,
                    "content_type": d.content_type, "state": d.state,
                    "signature": d.signature, "sha256": d.sha256,
                    "created_at": d.created_at.isoformat(),
                    "updated_at": d.updated_at.isoformat(),
                }
                for d in rows
            ]
        }
    )  # fmt: skip


urlpatterns = [path("bench/documents", documents), *tenant_urlpatterns]
