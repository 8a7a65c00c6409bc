"""The audit action registry: every recorded action is declared once, the README's table is
the registry's, and events read as sentences in the reader's language."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from audit import registry
from audit.actions_table import BEGIN, END, readme_section

ROOT = Path(settings.BASE_DIR)
CODE = [ROOT / name for name in ("platform", "tenants", "billing", "uploads")]
RECORDED = re.compile(r'record\(\s*(?:f?"([a-z0-9_.{}\[\]A-Z]+)")')


def _recorded_in_code() -> set[str]:
    names: set[str] = set()
    for folder in CODE:
        for path in folder.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            names |= {m.group(1) for m in RECORDED.finditer(path.read_text())}
    return names


def test_every_action_the_code_records_is_declared():
    recorded = _recorded_in_code()
    # The lifecycle records "tenant.{ACTION_NAMES[to]}": each of those names.
    from tenants.lifecycle import ACTION_NAMES

    dynamic = {n for n in recorded if "{" in n}
    assert dynamic == {"tenant.{ACTION_NAMES[to]}"}
    recorded = (recorded - dynamic) | {f"tenant.{verb}" for verb in ACTION_NAMES.values()}
    assert len(recorded) >= 40
    assert sorted(n for n in recorded if not registry.is_declared(n)) == []


def test_readme_table_is_the_registry():
    readme = (ROOT / "platform" / "audit" / "README.md").read_text()
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    assert readme[start:end] == readme_section(), (
        "platform/audit/README.md's action table is stale: paste `manage.py audit_actions`"
    )


def test_declaring_an_action_twice_or_badly_is_refused():
    with pytest.raises(ValueError, match="twice"):
        registry.declare("staff.invited", target="", description="x", sentence="x")
    with pytest.raises(ValueError, match="entity"):
        registry.declare("invited", target="", description="x", sentence="x")


@translation.override("en")
def test_sentences_show_values_as_people_read_them():
    text = registry.sentence_for(
        action="staff.role_changed",
        actor="Alice",
        target="Bob",
        changes={"role": ["member", "readonly"]},
    )
    assert text == "Alice changed Bob's role from Member to Read-only"
    policy = registry.sentence_for(
        action="workspace.policy_changed", actor="Alice", changes={"require_2fa": [False, True]}
    )
    assert "from no to yes" in policy


def test_sentences_are_in_the_readers_language():
    with translation.override("de"):
        text = registry.sentence_for(
            action="staff.role_changed",
            actor="Alice",
            target="Bob",
            changes={"role": ["member", "admin"]},
        )
    assert "Alice" in text and "Bob" in text and "Mitglied" in text and "changed" not in text


@translation.override("en")
def test_missing_values_and_unknown_actions_still_read():
    assert registry.sentence_for(action="staff.role_changed", actor="A", target="B").endswith(
        "from … to …"
    )
    assert registry.sentence_for(action="gone.action", actor="A") == "A: gone.action"


def test_a_plain_word_matches_its_group():
    auth = registry.matching("auth")
    assert "auth.login" in auth and "auth.lockout" in auth and "staff.invited" not in auth
    assert registry.matching("staff.invited") == ["staff.invited"]
    assert "staff" in registry.groups()
