"""Vendor staff accounts: the staff users of the public schema (the support console's)."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

import audit.services as audit
from core.principal import Principal, write_service
from core.workspace import current as current_workspace

from ..models import User


@write_service
def vendor_staff_create(
    *, actor: Principal, email: str, password: str, full_name: str = ""
) -> User:
    """A vendor staff account, audited in the platform's chain. The only way one is
    made: ``createsuperuser`` is routed here."""
    if not current_workspace().is_public:
        raise ValidationError(_("Vendor staff accounts live on the public site only."))
    email = email.strip().lower()
    validate_email(email)
    user = User(email=email, full_name=full_name, is_staff=True, role=User.Role.OWNER)
    validate_password(password, user=user)
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise ValidationError(_("An account with this email address already exists."))
        user.set_password(password)
        user.save()
        audit.record("vendor_staff.created", actor=actor, target=user, changes={"email": email})
    return user
