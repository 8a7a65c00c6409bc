"""Accounts data. Every table lives in each tenant schema (that tenant's staff) and
in the public schema (the vendor's support staff).

- ``User``: email sign-in, a workspace role, language and time zone.
- ``Invitation``: a pending invitation; only a hash of its link's secret is stored.
- ``UserSession``: one row per signed-in browser, so sessions can be listed and ended.
- ``WorkspacePolicy``: the workspace's security settings (a single row).
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.principal import Actor, user_actor
from core.workspace import PUBLIC_SCHEMA
from core.workspace import current as current_workspace


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("vendor_role", VendorRole.ADMIN)
        extra.setdefault("role", User.Role.OWNER)
        return self.create_user(email, password, **extra)


class VendorRole(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    SUPPORT = "support", _("Support")
    BILLING = "billing", _("Billing")
    ADMIN = "admin", _("Admin")


class User(AbstractBaseUser, PermissionsMixin):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        MEMBER = "member", _("Member")
        READONLY = "readonly", _("Read-only")

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("vendor staff"), default=False)
    # Vendor staff only (public schema): what they may do in the console
    # (``core.principal.VENDOR_ROLES``, checked by ``require_vendor_role``).
    vendor_role = models.CharField(
        _("vendor role"), max_length=16, choices=VendorRole.choices, blank=True, db_default=""
    )
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    # Empty: follow the browser's language / the workspace default time zone.
    language = models.CharField(_("language"), max_length=10, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    # A user is a principal (``core.principal``) acting as themself. Whether it is a
    # workspace's user or the vendor's depends on the schema its row was read from (or
    # saved to), not on where the connection happens to be when it acts: a vendor row
    # used inside ``schema_context(tenant)`` is still the vendor.
    read_only = False
    audit_impersonator = None

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._schema = current_workspace().schema_name
        return user

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self._schema = current_workspace().schema_name

    def _on_public(self) -> bool:
        schema = getattr(self, "_schema", None) or current_workspace().schema_name
        return schema == PUBLIC_SCHEMA

    @property
    def acting_user(self) -> "User | None":
        """Itself in a workspace; none on the public site (vendor staff have no role in a
        workspace: they act in one only through a support session)."""
        return None if self._on_public() else self

    @property
    def audit_actor(self) -> Actor:
        return user_actor(self, "vendor" if self.is_staff and self._on_public() else "user")


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> "InvitationQuerySet":
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=16, choices=User.Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # sha256 of the link's secret: a database leak does not yield working links.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open invitation per address.
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="accounts_invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class UserSession(models.Model):
    """A signed-in browser. The session itself is Django's; this row describes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.ip or '-'}"


class WorkspacePolicy(models.Model):
    """The workspace's security settings: one row, pk 1."""

    require_2fa = models.BooleanField(_("require two-factor authentication"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "workspace policy"
