"""Per-workspace backups, restore and the restore drill (see README.md).

Write API: ``backups.services``; reads for pages and metrics: ``backups.selectors``.
"""
