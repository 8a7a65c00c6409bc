"""The German catalogue is complete, compiled and current, and real pages use it.

A string added to the source without a German translation fails this suite: the
catalogue is re-extracted from a copy of the tree (when xgettext is installed)
and every msgid found there must already be translated in ``locale/de``.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.accounts.helpers import make_user
from tests.conftest import client_for, sign_in

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# The same exclusions as the documented makemessages command (README).
IGNORED = [".venv", "var", "bench", "tests"]


@dataclass
class Entry:
    """One message of a ``.po`` file."""

    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    line: int = 0

    @property
    def key(self) -> str:
        """The key under which ``msgfmt`` stores the entry in a ``.mo`` file."""
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


def parse_po(path: Path) -> list[Entry]:
    """Parse the PO files gettext's tools write: entries separated by blank lines."""
    entries = []
    keyword = re.compile(r'(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")$')
    text = path.read_text(encoding="utf-8")
    line_number = 1
    for block in re.split(r"\n[ \t]*\n", text):
        start, line_number = line_number, line_number + block.count("\n") + 2
        values: dict[tuple[str, int], str] = {}
        flags: set[str] = set()
        obsolete = False
        current = None
        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("#~"):
                obsolete, line = True, line[2:].strip()
            elif line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            elif line.startswith("#") or not line:
                continue
            match = keyword.match(line)
            if match:
                current = (match.group(1), int(match.group(2) or 0))
                values[current] = ast.literal_eval(match.group(3))
            elif line.startswith('"') and current is not None:
                values[current] += ast.literal_eval(line)
            else:
                raise ValueError(f"{path}:{start}: cannot parse {raw!r}")
        if ("msgid", 0) not in values:
            continue
        entries.append(
            Entry(
                msgid=values[("msgid", 0)],
                msgctxt=values.get(("msgctxt", 0)),
                msgid_plural=values.get(("msgid_plural", 0)),
                msgstr={i: v for (k, i), v in values.items() if k == "msgstr"},
                flags=flags,
                obsolete=obsolete,
                line=start,
            )
        )
    return entries


def catalogue() -> list[Entry]:
    """The live (not obsolete) entries of the German catalogue, header excluded."""
    return [e for e in parse_po(PO) if e.msgid and not e.obsolete]


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdif]|%[sdif]|\{[a-z_]*\}")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def test_header_declares_german_with_two_plural_forms():
    header = next(e for e in parse_po(PO) if e.msgid == "")
    assert "fuzzy" not in header.flags
    meta = header.msgstr[0]
    assert "Language: de\n" in meta
    assert "Content-Type: text/plain; charset=UTF-8\n" in meta
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in meta


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = catalogue()
    assert len(entries) > 300, "the catalogue looks truncated"
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    untranslated = [
        e.msgid
        for e in entries
        if not e.msgstr or any(not v.strip() for v in e.msgstr.values())
        or (e.msgid_plural is not None and sorted(e.msgstr) != [0, 1])
    ]  # fmt: skip
    assert not untranslated, f"untranslated entries: {untranslated}"
    obsolete = [e.msgid for e in parse_po(PO) if e.obsolete]
    assert not obsolete, f"obsolete entries left in the catalogue: {obsolete}"


def test_translations_keep_placeholders_and_markup():
    problems = []
    for entry in catalogue():
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        wanted = sorted(set().union(*(set(PLACEHOLDER.findall(s)) for s in sources)))
        tags = sorted(TAG.findall(entry.msgid))
        for index, text in entry.msgstr.items():
            found = sorted(set(PLACEHOLDER.findall(text)))
            if found != wanted:
                problems.append((entry.msgid, index, wanted, found))
            if sorted(TAG.findall(text)) != tags:
                problems.append((entry.msgid, index, "markup", tags))
            if text.endswith("\n") != entry.msgid.endswith("\n"):
                problems.append((entry.msgid, index, "trailing newline"))
    assert not problems, problems


def test_catalogue_says_sie_not_du():
    informal = re.compile(r"\b(du|dich|dir|dein\w*|Du|Dich|Dir|Dein\w*)\b")
    hits = [text for e in catalogue() for text in e.msgstr.values() if informal.search(text)]
    assert not hits, hits


def test_compiled_catalogue_matches_the_po_file():
    """The shipped ``.mo`` holds exactly the ``.po`` (so nobody forgot compilemessages)."""
    assert MO.exists(), "run `manage.py compilemessages` and commit the .mo"
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    # GNUTranslations keeps every message in ``_catalog``: plain keys for singular
    # entries, (msgid, index) for plural forms; the header is the "" entry.
    stored = dict(compiled._catalog)
    expected: dict[object, str] = {}
    for entry in catalogue():
        if entry.msgid_plural is None:
            expected[entry.key] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(entry.key, index)] = text
    stored.pop("", None)
    assert stored == expected
    one, many = "%(free)s seat left on your plan.", "%(free)s seats left on your plan."
    assert compiled.ngettext(one, many, 1) == "In Ihrem Tarif ist noch %(free)s Platz frei."
    assert compiled.ngettext(one, many, 3) == "In Ihrem Tarif sind noch %(free)s Plätze frei."


def _copy_source_tree(target: Path) -> None:
    """The files makemessages reads: everything but the ignored folders and the locale."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == ROOT:
            return {n for n in names if n in IGNORED or n.startswith(".") or n == "locale"}
        return {n for n in names if n == "__pycache__"}

    shutil.copytree(ROOT, target, ignore=ignore, symlinks=True)


@pytest.mark.skipif(
    shutil.which("xgettext") is None,
    reason="xgettext is missing (Debian package gettext): cannot re-extract the catalogue; "
    "`deploy/local/services.sh start` installs it and CI runs it",
)
def test_catalogue_covers_every_string_in_the_source(tmp_path):
    """Re-extract the messages from a copy of the source: any new msgid is untranslated."""
    tree = tmp_path / "tree"
    _copy_source_tree(tree)
    (tree / "locale" / "de" / "LC_MESSAGES").mkdir(parents=True)
    command = [sys.executable, "manage.py", "makemessages", "-l", "de", "--no-location"]
    for pattern in IGNORED:
        command += ["--ignore", f"{pattern}/*"]
    result = subprocess.run(
        command, cwd=tree, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    extracted = {e.key for e in parse_po(tree / "locale/de/LC_MESSAGES/django.po") if e.msgid}
    assert len(extracted) > 300
    translated = {e.key for e in catalogue()}
    missing = sorted(extracted - translated)
    assert not missing, (
        f"strings without a German translation: {missing}; run makemessages "
        "(see README), translate them and run compilemessages"
    )
    stale = sorted(translated - extracted)
    assert not stale, f"catalogue entries no longer in the source: {stale}"


def test_no_javascript_catalogue_is_needed():
    """The documents page's script takes its words from data attributes the template
    translates; a string added to a script needs the djangojs domain and this test."""
    script = (ROOT / "uploads/static/uploads/documents.js").read_text()
    code = re.sub(r"//.*|/\*.*?\*/", "", script, flags=re.S)
    literals = re.findall(r'"([^"\\]*)"', code)
    words = [s for s in literals if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", s)]
    assert not words, words


# --- Real pages in German ---------------------------------------------------------


def german(client):
    """Send every request of ``client`` with ``Accept-Language: de``."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"
    return client


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response["Content-Language"] == "de"
    return response.content.decode()


def assert_german(html: str, present: list[str], absent: list[str]) -> None:
    assert '<html lang="de">' in html
    for text in present:
        assert text in html, f"{text!r} missing"
    for text in absent:
        assert text not in html, f"{text!r} still in English"


@pytest.mark.django_db
def test_public_landing_and_signup_pages_are_german(public_client):
    client = german(public_client)
    assert_german(
        page(client, "/"),
        ["Ein Arbeitsbereich für Ihre Partnerorganisation", "Arbeitsbereich erstellen"],
        ["One workspace for your partner organisation", "Create your workspace"],
    )
    assert_german(
        page(client, "/signup/"),
        ["Firmenname", "Adresse des Arbeitsbereichs", "Geschäftliche E-Mail-Adresse"],
        ["Company name", "Workspace address", "Work email"],
    )


@pytest.mark.django_db
def test_signup_errors_are_german(public_client):
    client = german(public_client)
    form = {
        "name": "Gamma GmbH",
        "slug": "alpha",  # taken by the session's workspace
        "owner_name": "Greta Gamma",
        "owner_email": "greta@gamma.test",
        "owner_password": "Correct-horse-battery-9",
    }
    html = client.post("/signup/", form).content.decode()
    assert "Diese Adresse ist bereits vergeben." in html
    assert "This address is already taken." not in html
    html = client.post("/signup/", {**form, "slug": "", "owner_email": "nope"}).content.decode()
    # Django's own German catalogue covers the form-field errors.
    assert "Dieses Feld ist zwingend erforderlich." in html
    assert "This field is required." not in html


@pytest.mark.django_db
def test_workspace_sign_in_page_is_german(tenant_a):
    html = page(german(client_for(tenant_a)), "/accounts/login/")
    assert_german(html, ["Anmelden", "Passwort vergessen?"], ["Sign in", "Forgot your password?"])


@pytest.mark.django_db
def test_staff_list_is_german(owner_client_a, tenant_a):
    make_user(tenant_a, "member@i18n.test", role="member")
    html = page(german(owner_client_a), "/staff/")
    assert_german(
        html,
        [
            "Mitarbeitende",
            "Mitarbeitende einladen",
            "Ausstehende Einladungen",
            "Inhaber",
            "Mitglied",
        ],
        ["Invite staff", "Pending invitations", "No pending invitations", ">Owner<", ">Member<"],
    )
    assert "Abmelden" in html and "Sign out" not in html


@pytest.mark.django_db
def test_documents_page_is_german(owner_client_a):
    html = page(german(owner_client_a), "/documents/")
    assert_german(
        html,
        [
            "Dokumente",
            "Dateien auswählen oder hier ablegen",
            "ist größer als die Obergrenze pro Datei",
            "Noch keine Dokumente.",
        ],
        ["Choose files or drop them here", "No documents yet.", "per-file limit"],
    )


@pytest.mark.django_db
def test_audit_log_page_is_german(owner_client_a):
    html = page(german(owner_client_a), "/audit/")
    assert_german(
        html,
        ["Audit-Protokoll", "Akteur", "Aktion", "Ziel", "Filtern"],
        ["Audit log", ">Actor<", "Export these events", "When (UTC)"],
    )


@pytest.mark.django_db
def test_english_stays_the_default(tenant_a):
    """Without a German preference (or with one we do not offer) pages stay English."""
    assert settings.LANGUAGE_CODE == "en"
    for accept in (None, "fr-FR,fr;q=0.9"):
        client = client_for(tenant_a)
        if accept:
            client.defaults["HTTP_ACCEPT_LANGUAGE"] = accept
        html = client.get("/accounts/login/").content.decode()
        assert "Forgot your password?" in html and "Passwort vergessen?" not in html


@pytest.mark.django_db
def test_regional_german_gets_the_german_catalogue(tenant_a):
    client = client_for(tenant_a)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de-AT,de;q=0.9,en;q=0.5"
    assert "Passwort vergessen?" in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_flash_messages_use_german_plural_forms(owner_client_a, owner_a, tenant_a):
    client = german(owner_client_a)
    other = client_for(tenant_a)
    assert sign_in(other, owner_a.email)
    response = client.post("/account/sessions/revoke-others/", follow=True)
    html = response.content.decode()
    assert "1 andere Sitzung wurde abgemeldet." in html
    response = client.post("/account/sessions/revoke-others/", follow=True)
    assert "0 andere Sitzungen wurden abgemeldet." in response.content.decode()


@pytest.mark.django_db
def test_a_users_language_preference_beats_the_browser(tenant_a):
    make_user(tenant_a, "deutsch@i18n.test", role="member", language="de")
    client = client_for(tenant_a)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert sign_in(client, "deutsch@i18n.test")
    html = client.get("/documents/").content.decode()
    assert "Noch keine Dokumente." in html and "No documents yet." not in html
