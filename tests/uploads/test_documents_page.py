"""The documents page: names kept as written, search, sort, pagination and the live
scan state."""

import re

import pytest
from django_tenants.utils import schema_context

from tests.uploads.test_pipeline import doc, post_upload
from uploads import sniffing
from uploads.models import Document

State = Document.State


def make_docs(tenant, owner, rows):
    """Documents straight in the schema (no scan): ``(name, size, state)`` each."""
    with schema_context(tenant.schema_name):
        return [
            Document.objects.create(
                name=name,
                size=size,
                content_type="text/plain",
                sha256="0" * 64,
                state=state,
                uploaded_by=owner,
            )
            for name, size, state in rows
        ]


def names_on(page: str) -> list[str]:
    return re.findall(r'<td class="name">(?:<a [^>]*>|<span>)([^<]*)<', page)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('Q3 "final" <draft>?.pdf', 'Q3 "final" <draft>?.pdf'),
        ("O'Brien: notes|v2*.txt", "O'Brien: notes|v2*.txt"),
        ("a/b\\c\x07.txt", "c_.txt"),
    ],
)
def test_names_keep_quotes_and_punctuation_but_no_path_or_control(raw, clean):
    assert sniffing.sanitize_filename(raw) == clean


def test_browser_escapes_in_multipart_names_are_undone():
    assert sniffing.multipart_filename("say %22hi%22.txt") == 'say "hi".txt'
    assert sniffing.multipart_filename("a%0Ab%0dc") == "a\nb\rc"
    assert sniffing.multipart_filename("100%25 sure.txt") == "100%25 sure.txt"


def test_uploaded_name_with_quotes_is_stored_as_written(fs_storage, owner_client_a, tenant_a):
    # What a browser sends for a file called «Müller "final".txt».
    response = post_upload(owner_client_a, "Müller %22final%22.txt", b"hello")
    assert response.status_code == 200, response.content
    document_id = response.json()["documents"][0]["id"]
    assert doc(tenant_a, document_id).name == 'Müller "final".txt'
    page = owner_client_a.get("/documents/").content.decode()
    assert "Müller &quot;final&quot;.txt" in page


def test_search_sort_and_paginate(fs_storage, owner_client_a, tenant_a, owner_a):
    make_docs(
        tenant_a, owner_a,
        [("beta report.pdf", 300, State.AVAILABLE), ("Alpha.txt", 100, State.AVAILABLE),
         ("gamma REPORT.doc", 200, State.BLOCKED), ("deleted report", 5, State.DELETED)],
    )  # fmt: skip
    page = owner_client_a.get("/documents/", {"q": "report"}).content.decode()
    assert sorted(names_on(page)) == ["beta report.pdf", "gamma REPORT.doc"]
    assert 'value="report"' in page

    def order(sort):
        return names_on(owner_client_a.get("/documents/", {"sort": sort}).content.decode())

    assert order("name") == ["Alpha.txt", "beta report.pdf", "gamma REPORT.doc"]
    assert order("-name") == ["gamma REPORT.doc", "beta report.pdf", "Alpha.txt"]
    assert order("size") == ["Alpha.txt", "gamma REPORT.doc", "beta report.pdf"]
    assert order("-size") == ["beta report.pdf", "gamma REPORT.doc", "Alpha.txt"]
    assert order("-created") == ["gamma REPORT.doc", "Alpha.txt", "beta report.pdf"]
    assert order("created") == ["beta report.pdf", "Alpha.txt", "gamma REPORT.doc"]
    assert order("nonsense") == order("-created")  # an unknown sort is the default

    empty = owner_client_a.get("/documents/", {"q": "zzz"}).content.decode()
    assert (
        names_on(empty) == []
        and "No document\N{RIGHT SINGLE QUOTATION MARK}s name contains “zzz”." in empty
    )


def test_pagination_keeps_search_and_sort(fs_storage, owner_client_a, tenant_a, owner_a):
    make_docs(tenant_a, owner_a, [(f"file {i:02}.txt", i, State.AVAILABLE) for i in range(30)])
    first = owner_client_a.get("/documents/", {"sort": "name", "q": "file"}).content.decode()
    assert names_on(first)[0] == "file 00.txt" and len(names_on(first)) == 25
    assert "Page 1 of 2" in first
    assert "?q=file&amp;sort=name&amp;page=2" in first
    second = owner_client_a.get("/documents/", {"sort": "name", "q": "file", "page": 2})
    assert names_on(second.content.decode()) == [f"file {i}.txt" for i in range(25, 30)]
    # Past the end is the last page, not an error.
    assert owner_client_a.get("/documents/", {"page": 99}).status_code == 200


def test_waiting_rows_are_live_and_states_endpoint_gives_labels(
    fs_storage, owner_client_a, tenant_a, owner_a
):
    waiting, ready = make_docs(
        tenant_a, owner_a, [("wait.txt", 1, State.SCANNING), ("ready.txt", 1, State.AVAILABLE)]
    )
    page = owner_client_a.get("/documents/").content.decode()
    row = page[page.index(f'data-document-id="{waiting.id}"') :]
    assert 'aria-live="polite"' in row[: row.index("</tr>")]
    assert 'data-states-url="/documents/states/"' in page

    states = owner_client_a.get(
        "/documents/states/", {"id": [str(waiting.id), str(ready.id)]}
    ).json()["documents"]
    by_id = {d["id"]: d for d in states}
    assert by_id[str(waiting.id)] == {
        "id": str(waiting.id), "state": "scanning", "label": "Scanning", "download_url": "",
    }  # fmt: skip
    assert by_id[str(ready.id)]["download_url"] == f"/documents/{ready.id}/download/"
    german = owner_client_a.get(
        "/documents/states/", {"id": str(waiting.id)}, HTTP_ACCEPT_LANGUAGE="de"
    ).json()["documents"]
    assert german[0]["label"] != "Scanning"
    assert owner_client_a.get("/documents/states/", {"id": "nope"}).status_code == 400


def test_delete_asks_for_confirmation(fs_storage, owner_client_a, tenant_a, owner_a):
    make_docs(tenant_a, owner_a, [("keep.txt", 1, State.AVAILABLE)])
    page = owner_client_a.get("/documents/").content.decode()
    assert 'data-confirm="Delete “keep.txt”?' in page
