"""OpenAPI: the oauth2 security scheme with both flows and each operation's scope, every
error response as a problem document, and the workspace's absolute URL when the schema
is served live (``/api/schema/`` on a workspace host)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema

from .permissions import required_scope
from .settings import SCOPES

ERRORS = {
    400: "Bad request: invalid parameters, body, cursor or page size (validation, bad-cursor)",
    401: "No token, or an invalid, expired or revoked one (unauthenticated, invalid-token)",
    403: "The token's scopes or the user's role do not allow it (insufficient-scope, "
    "forbidden, read-only)",
    404: "No such resource in this workspace (not-found)",
    409: "Conflict: state, or an Idempotency-Key reused with another body "
    "(conflict, not-available, idempotency-key-reused, idempotency-in-progress)",
    413: "Over the file size limit or the storage quota (too-large)",
    415: "Unsupported media type (unsupported-media-type)",
    429: "Rate limit of the grant exceeded; see Retry-After (rate-limited)",
}


class OAuth2Scheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.BearerTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema):
        scopes = dict(SCOPES)
        return {
            "type": "oauth2",
            "description": "Tokens of this workspace's /o/token/ (Bearer).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/o/authorize/",
                    "tokenUrl": "/o/token/",
                    "refreshUrl": "/o/token/",
                    "scopes": scopes,
                },
                "clientCredentials": {"tokenUrl": "/o/token/", "scopes": scopes},
            },
        }

    def get_security_requirement(self, auto_schema):
        scope = required_scope(auto_schema.view, auto_schema.method)
        return {self.name: [scope] if scope else []}


class AutoSchema(BaseAutoSchema):
    def _get_response_bodies(self, direction: str = "response"):
        responses = super()._get_response_bodies(direction)
        from .serializers import ProblemSerializer

        component = self.resolve_serializer(ProblemSerializer, "response")
        for code, description in ERRORS.items():
            responses.setdefault(
                str(code),
                {
                    "description": description,
                    "content": {"application/problem+json": {"schema": component.ref}},
                },
            )
        return responses


def absolute_urls(result, generator, request, public):
    """Postprocessing hook: served live, the schema names this workspace's own URLs."""
    if request is None:
        return result
    base = request.build_absolute_uri("/").rstrip("/")
    result["servers"] = [{"url": base, "description": "this workspace"}]
    flows = result.get("components", {}).get("securitySchemes", {}).get("oauth2", {})
    for flow in flows.get("flows", {}).values():
        for key in ("authorizationUrl", "tokenUrl", "refreshUrl"):
            if key in flow and flow[key].startswith("/"):
                flow[key] = base + flow[key]
    return result
