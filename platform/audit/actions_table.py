"""The declared audit actions as the Markdown table of ``platform/audit/README.md``.

``manage.py audit_actions`` prints it; a test fails when the README's copy differs.
"""

from django.utils import translation

from . import registry

BEGIN = "<!-- audit-actions:begin (manage.py audit_actions) -->"
END = "<!-- audit-actions:end -->"


def markdown_table() -> str:
    """One row per declared action, by group: name, target, meaning, sentence (English)."""
    with translation.override("en"):
        rows = ["| action | target | meaning | shown as |", "| --- | --- | --- | --- |"]
        for action in registry.all_actions():
            if not action.source.endswith("audit_actions"):
                continue  # declared by a test, not by a package
            sentence = str(action.sentence).replace("%(", "{").replace(")s", "}")
            rows.append(
                f"| `{action.name}` | {(action.target and f'`{action.target}`') or '—'} "
                f"| {action.description} | {sentence} |"
            )
    return "\n".join(rows)


def readme_section() -> str:
    return f"{BEGIN}\n{markdown_table()}\n{END}"
