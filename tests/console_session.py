"""A console session made by hand, for tests of pages that sit behind the console's sign-in
(support, offboarding, the browser flows). The sign-in itself (password, then a TOTP
code) belongs to the console package and is tested there (tests/console/test_access.py);
everyone else starts from a session as that sign-in leaves it, which costs no requests.

``console_session_key(user)`` gives the session's key (for a browser's cookie),
``console_client(user)`` a public-host test client carrying it.
"""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context


def console_session_key(user, *, verified: bool = True) -> str:
    """A console session (public schema) signed in as ``user``; with ``verified`` its
    second factor passed on a confirmed TOTP device, as the console's sign-in leaves it
    (``console.views._sign_in``: login, otp_login, ``console.session.start``). Not
    ``force_login``: that would track it as a workspace session."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from console import session as console_session

    with schema_context("public"):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        if verified:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="console", confirmed=True)
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        moment = console_session.now()
        session[console_session.STARTED_KEY] = session[console_session.SEEN_KEY] = moment
        session.set_expiry(console_session.absolute_limit())
        session.create()
        return session.session_key


def console_client(user, *, verified: bool = True) -> Client:
    """A public-host client signed in to the console as ``user`` (see above)."""
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    client.cookies[settings.SESSION_COOKIE_NAME] = console_session_key(user, verified=verified)
    return client
