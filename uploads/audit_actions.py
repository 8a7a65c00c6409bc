"""The audit actions of documents: upload, scan, changes and downloads."""

from django.utils.translation import gettext_lazy as _

from audit.registry import declare


def _document(name: str, description, sentence) -> None:
    declare(name, target="uploads.document", description=description, sentence=sentence)


_document(
    "document.uploaded",
    _("A document was uploaded into quarantine, to be scanned."),
    _("%(actor)s uploaded %(target)s"),
)
_document(
    "document.scanned_clean",
    _("A document was scanned, found clean and made available."),
    _("%(target)s was scanned and is available"),
)
_document(
    "document.blocked",
    _("A document was blocked: the virus scanner found a threat or could not read it."),
    _("%(target)s was blocked (%(signature)s)"),
)
_document(
    "document.renamed",
    _("A document was renamed."),
    _("%(actor)s renamed %(name_before)s to %(name_after)s"),
)
_document(
    "document.deleted",
    _("A document was moved to the bin."),
    _("%(actor)s deleted %(target)s"),
)
_document(
    "document.restored",
    _("A deleted document was restored."),
    _("%(actor)s restored %(target)s"),
)
_document(
    "document.purged",
    _("A deleted document was removed for good after its grace period."),
    _("%(target)s was removed for good"),
)
_document(
    "document.downloaded",
    _("A document was downloaded or opened."),
    _("%(actor)s downloaded %(target)s"),
)
