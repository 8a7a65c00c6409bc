"""Deploy check: production must have its own backup key (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def backup_key_set(app_configs, **kwargs) -> list[Error]:
    from django.core.exceptions import ImproperlyConfigured

    from .crypto import backup_key

    if settings.DEBUG:
        return []
    try:
        backup_key()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="backups.E001")]
    return []
