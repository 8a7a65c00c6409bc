"""The settings of django-oauth-toolkit, DRF and drf-spectacular, built from a few values
(``config.settings.base`` calls ``api_settings``): kept here, next to the code they
configure. Imports nothing of Django's apps (settings are read before they load)."""

# Marked for translation here; the consent page translates them when shown.
from django.utils.translation import gettext_noop as _

# Scopes by resource and verb. A token's scopes and its user's role must both allow an
# action: a scope never grants what the role forbids.
SCOPES = {
    "workspace:read": _("Read the workspace's name, plan, limits and usage"),
    "staff:read": _("List staff and invitations"),
    "staff:write": _("Invite staff, change roles, deactivate and reactivate staff"),
    "documents:read": _("List and download documents"),
    "documents:write": _("Upload, rename, delete and restore documents"),
    "audit:read": _("Read and export the audit log"),
    "billing:read": _("Read the plan and its limits"),
}

# A workspace role's rank: an app acts at most with its creator's role.
ROLE_RANK = {"readonly": 0, "member": 1, "admin": 2, "owner": 3}


def api_settings(
    *, access_token_seconds: int, refresh_token_seconds: int, debug: bool = False
) -> tuple[dict, dict, dict]:
    """``OAUTH2_PROVIDER``, ``REST_FRAMEWORK`` and ``SPECTACULAR_SETTINGS``."""
    oauth2 = {
        "SCOPES": dict(SCOPES),
        "DEFAULT_SCOPES": ["workspace:read"],
        # Authorization code only with PKCE (S256); client credentials need none.
        "PKCE_REQUIRED": True,
        # Plain http redirect URIs only while developing (make run).
        "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if debug else ["https"],
        "ACCESS_TOKEN_EXPIRE_SECONDS": access_token_seconds,
        "REFRESH_TOKEN_EXPIRE_SECONDS": refresh_token_seconds,
        "ROTATE_REFRESH_TOKEN": True,
        # A rotated refresh token used again ends its whole family (a stolen copy).
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        # RFC 9700 (the OAuth 2.0 security BCP): tokens stored as their SHA-256 only,
        # PKCE with S256 only, no implicit or password grant, tokens in the
        # Authorization header only, `iss` in authorization responses.
        "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
        "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
        "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
        "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
        "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
        "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
        "OAUTH2_VALIDATOR_CLASS": "api.oauth.Validator",
        "REQUEST_APPROVAL_PROMPT": "force",
    }
    rest = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.BearerTokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ScopesAndRole"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "DEFAULT_THROTTLE_CLASSES": [],
        "DEFAULT_PAGINATION_CLASS": None,
        "EXCEPTION_HANDLER": "api.problems.exception_handler",
        "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
        "UNAUTHENTICATED_USER": None,
        "DEFAULT_VERSIONING_CLASS": None,
        "URL_FORMAT_OVERRIDE": None,
        "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.Negotiation",
    }
    spectacular = {
        "TITLE": "Atrium API",
        "DESCRIPTION": (
            "The integration API of an Atrium workspace. Every workspace has its own "
            "URL (`https://<slug>.<domain>/api/v1/`), its own OAuth2 apps and tokens. "
            "Errors are RFC 9457 problem documents (`application/problem+json`)."
        ),
        "VERSION": "1.0.0",
        "SERVE_INCLUDE_SCHEMA": False,
        "SCHEMA_PATH_PREFIX": r"/api/v1",
        "COMPONENT_SPLIT_REQUEST": True,
        # PATCH bodies as documented, not with every field made optional.
        "COMPONENT_SPLIT_PATCH": False,
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
        "SERVE_AUTHENTICATION": [],
        "SERVERS": [
            {
                "url": "{scheme}://{workspace}.{domain}",
                "description": "A workspace",
                "variables": {
                    "scheme": {"default": "https", "enum": ["https", "http"]},
                    "workspace": {"default": "demo", "description": "the workspace's slug"},
                    "domain": {"default": "localhost:8000"},
                },
            }
        ],
        "DISABLE_ERRORS_AND_WARNINGS": False,
        "POSTPROCESSING_HOOKS": [
            "drf_spectacular.hooks.postprocess_schema_enums",
            "api.schema.absolute_urls",
        ],
    }
    return oauth2, rest, spectacular
