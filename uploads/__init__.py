"""Documents: uploads streamed to quarantine, scanned by clamd, then stored for download.

Public face: ``uploads.services`` (state changes), ``uploads.selectors`` (reads),
``uploads.scanning`` (the scanner interface). See ``uploads/README.md``.
"""
