"""What the API reads and writes. Output serializers describe rows; input serializers
validate bodies before a service sees them (the service validates again, as for pages)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from audit.registry import sentence_for

ROLE_CHOICES = ["owner", "admin", "member", "readonly"]
DOCUMENT_STATES = ["quarantined", "scanning", "available", "blocked", "deleted"]


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="Stable: urn:atrium:problem:<name>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.ListField(child=serializers.CharField(), required=False)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class AppRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    app = AppRefSerializer()
    user = UserSerializer(allow_null=True, help_text="null for an app acting alone")
    scopes = serializers.ListField(child=serializers.CharField())
    role = serializers.ChoiceField(choices=ROLE_CHOICES, allow_null=True)


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    max_staff = serializers.IntegerField()
    storage_quota_bytes = serializers.IntegerField()
    max_upload_bytes = serializers.IntegerField()
    api_requests_per_minute = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    active_staff = serializers.IntegerField()
    pending_invitations = serializers.IntegerField()
    storage_used_bytes = serializers.IntegerField()


class WorkspaceSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    plan = PlanSerializer()
    usage = UsageSerializer()


class PageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)


def page_of(item_serializer, name: str):
    return type(
        name,
        (PageSerializer,),
        {"results": item_serializer(many=True), "__doc__": f"A page of {name[:-4].lower()}."},
    )


class RoleChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InviteSerializer(serializers.Serializer):
    emails = serializers.ListField(
        child=serializers.EmailField(max_length=254), min_length=1, max_length=100
    )
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class InviteResultSerializer(serializers.Serializer):
    invited = InvitationSerializer(many=True)
    skipped = serializers.DictField(
        child=serializers.CharField(), help_text="email → why it was not invited"
    )


class DocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    state = serializers.ChoiceField(choices=DOCUMENT_STATES)
    signature = serializers.CharField(help_text="the threat found, for blocked documents")
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, document) -> str | None:
        if document.state != "available":
            return None
        return reverse("api:document-download", args=[document.pk])


def _iso(value) -> str:
    """A datetime as DRF's DateTimeField writes it (UTC as ``Z``)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_download_path: list[str] = []


def document_json(document) -> dict:
    """``DocumentSerializer``'s output, built directly: a list of documents is the API's
    busiest answer, and DRF's field machinery costs more than the query (bench/api.py)."""
    if not _download_path:
        _download_path.append(reverse("api:document-download", args=["ID"]))
    available = document.state == "available"
    return {
        "id": str(document.pk),
        "name": document.name,
        "size": document.size,
        "content_type": document.content_type,
        "state": document.state,
        "signature": document.signature,
        "sha256": document.sha256,
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "download_url": _download_path[0].replace("ID", str(document.pk)) if available else None,
    }


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the document (multipart/form-data)")


class StrictRegexField(serializers.RegexField):
    """Text only: DRF would turn a JSON number into a string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DocumentRenameSerializer(serializers.Serializer):
    # Any text: the service sanitises it (no path, no control characters) as for the page.
    name = StrictRegexField(r"^[^\x00]+$", max_length=255, trim_whitespace=False)


class ActorSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()
    display = serializers.CharField()


class ImpersonatorSerializer(serializers.Serializer):
    id = serializers.CharField()
    display = serializers.CharField()


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.SerializerMethodField()
    impersonator = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()
    changes = serializers.DictField()
    sentence = serializers.SerializerMethodField()

    def get_actor(self, event) -> ActorSerializer:
        return {"type": event.actor_type, "id": event.actor_id, "display": event.actor_display}

    def get_impersonator(self, event) -> ImpersonatorSerializer(allow_null=True):  # type: ignore[valid-type]
        if not event.impersonator_id:
            return None
        return {"id": event.impersonator_id, "display": event.impersonator_display}

    def get_target(self, event) -> ActorSerializer:
        return {"type": event.target_type, "id": event.target_id, "display": event.target_display}

    def get_sentence(self, event) -> str:
        return sentence_for(
            action=event.action,
            actor=event.actor_display,
            target=event.target_display,
            impersonator=event.impersonator_display,
            changes=event.changes,
        )
