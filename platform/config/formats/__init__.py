"""One date and time format per language, for every page, email and the audit log
(``FORMAT_MODULE_PATH``). Templates use the named formats (``DATETIME_FORMAT``,
``SHORT_DATETIME_FORMAT``, ``DATE_FORMAT``), never a literal pattern; machine
formats (exports, ``datetime`` attributes) stay ISO 8601."""
