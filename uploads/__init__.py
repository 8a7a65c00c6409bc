"""Documents: uploads streamed to quarantine, scanned by clamd, then stored for download.

Public face: ``uploads.services`` (state changes), ``uploads.selectors`` (reads) and
``uploads.storage`` (where documents and quarantine live: for backups). See
``uploads/README.md``.
"""
