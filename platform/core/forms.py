"""Form helpers shared by every package's views."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: by field when it names one of the
    form's fields, else at the top."""
    if hasattr(error, "error_dict"):
        for field, field_messages in error.message_dict.items():
            for message in field_messages:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def error_messages(request: HttpRequest, error: ValidationError) -> None:
    """Show a service's refusal as error messages on the next page."""
    for message in error.messages:
        messages.error(request, message)


def form_error_messages(request: HttpRequest, form: forms.Form) -> None:
    """Show an invalid form's errors as error messages on the next page (for forms posted
    from a page that redirects back): the plain messages, not the error list's HTML."""
    for field_errors in form.errors.values():
        for message in field_errors:
            messages.error(request, message)
