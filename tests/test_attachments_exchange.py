"""Attached files in exports and imports: the Workbench JSON export (version 4) carries each file
once, and an import brings them back through the checks an upload gets, whole or not at all; the
Markdown export links them; the tree map's data counts them."""
from __future__ import annotations

import base64
import copy
import html
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from conversations import selectors, services
from conversations.attachments import storage
from conversations.attachments.models import Blob, Upload
from conversations.exchange import ImportProblem
from conversations.exchange.importer import conversations_import
from conversations.exchange.workbench_json import conversation_export
from conversations.models import Conversation, Turn
from conversations.tokens import count_all
from tests.attachment_files import png
from tests.conftest import signed_in
from tests.test_attachments_fork import conversation_with_files, two_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def attachment_dir(_attachment_storage):
    return _attachment_storage


@pytest.fixture
def files(alice):
    return two_files(alice)


@pytest.fixture
def attached(alice, files):
    return conversation_with_files(alice)


def stored_files(location: Path) -> list[str]:
    return sorted(str(path.relative_to(location)) for path in location.rglob("*") if path.is_file())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def upload(client, document: dict, name: str = "export.json"):
    data = json.dumps(document).encode()
    return client.post(reverse("conversations_import"), {"file": SimpleUploadedFile(name, data, "application/json")})


def conversation_of(response) -> Conversation:
    assert response.status_code == 302, html.unescape(response.content.decode())
    return Conversation.objects.get(pk=int(response.url.rstrip("/").rsplit("/", 1)[-1]))


def forget_files(location: Path) -> None:
    """As another workbench would be: none of the files stored, nor their rows."""
    Turn.objects.all().delete()
    Upload.objects.all().delete()
    Blob.objects.all().delete()
    for name in stored_files(location):
        (location / name).unlink()


def attach(document: dict, data: bytes, name: str, *, kind: str = "image", media_type: str = "image/png",
           turn: int = 0, **described) -> str:
    """Add a file to an export as a crafted file would: under the hash of its bytes, named by the
    `turn`-th turn's descriptors."""
    sha = storage.digest(data)
    document["files"][sha] = {"media_type": media_type, "kind": kind, "size": len(data), "data": b64(data)}
    document["turns"][turn]["attachments"].append(
        {"sha256": sha, "name": name, "kind": kind, "media_type": media_type, "size": len(data), **described}
    )
    return sha


@pytest.fixture
def exported(alice, attached):
    conversation, turns = attached
    return conversation_export(conversation=conversation, user=alice)


# --- export ------------------------------------------------------------------------------------------


def test_the_export_carries_each_prompts_descriptors_and_each_file_once(alice, attached, files):
    conversation, turns = attached
    image, notes = files
    document = json.loads(signed_in(alice).get(reverse("conversation_export_json", args=[conversation.id])).content)
    assert document["version"] == 4
    assert [turn["attachments"] for turn in document["turns"]] == [turn.attachments for turn in turns]
    # The image is on two prompts and in "files" once.
    assert list(document["files"]) == [image.sha256, notes.sha256]
    assert document["files"][image.sha256] == {
        "media_type": "image/png", "kind": "image", "size": image.size,
        "data": b64(storage.read(storage.blob_name(image.sha256))),
    }
    assert base64.b64decode(document["files"][notes.sha256]["data"]) == b"# Notes\n\nCache for an hour.\n"
    assert document["files"][notes.sha256]["kind"] == "text"


def test_an_export_without_files_has_an_empty_files_object(alice):
    conversation = services.conversation_create(owner=alice, title="Plain")
    Turn.objects.append(conversation=conversation, role="user", content="hi", token_counts=count_all("hi"))
    document = conversation_export(conversation=conversation)
    assert document["files"] == {} and document["turns"][0]["attachments"] == []


# --- import: the round trip --------------------------------------------------------------------


def test_export_then_import_keeps_files_and_descriptors_and_stores_nothing_twice(alice, attached, attachment_dir):
    conversation, turns = attached
    client = signed_in(alice)
    document = json.loads(client.get(reverse("conversation_export_json", args=[conversation.id])).content)
    before = stored_files(attachment_dir)
    copy_ = conversation_of(upload(client, document))
    copies = list(copy_.turns.order_by("id"))
    assert [turn.attachments for turn in copies] == [turn.attachments for turn in turns]
    # Deduplicated against the files already stored: no new row, no new file.
    assert Blob.objects.count() == 2 and stored_files(attachment_dir) == before
    assert set(copies[0].blobs.values_list("sha256", flat=True)) == {d["sha256"] for d in turns[0].attachments}
    assert set(copies[2].blobs.values_list("sha256", flat=True)) == {turns[2].attachments[0]["sha256"]}


def test_an_import_into_a_workbench_without_the_files_stores_the_same_bytes(alice, exported, attachment_dir):
    forget_files(attachment_dir)
    report = conversations_import(owner=alice, data=json.dumps(exported).encode())
    copy_ = report.imported[0].conversation
    copies = list(copy_.turns.order_by("id"))
    assert [turn.attachments for turn in copies] == [turn["attachments"] for turn in exported["turns"]]
    for sha, file in exported["files"].items():
        assert storage.read(storage.blob_name(sha)) == base64.b64decode(file["data"])
        assert Turn.objects.filter(blobs=sha).count() == (2 if file["kind"] == "image" else 1)
    notes = Blob.objects.get(kind="text")
    assert notes.text == "# Notes\n\nCache for an hour.\n" and notes.token_counts == count_all(notes.text)
    # An image gets its thumbnail, as an upload does.
    image = Blob.objects.get(kind="image")
    assert storage.attachment_storage().exists(storage.thumbnail_name(image.sha256))


def test_a_version_3_file_still_imports(alice, exported):
    document = copy.deepcopy(exported)
    document["version"] = 3
    del document["files"]
    for turn in document["turns"]:
        del turn["attachments"]
    copy_ = conversations_import(owner=alice, data=json.dumps(document).encode()).imported[0].conversation
    assert [turn.attachments for turn in copy_.turns.all()] == [[], [], [], []]


def test_the_descriptors_facts_are_the_stored_files_not_the_exports(alice, exported, attachment_dir):
    """A file cannot claim another size in pixels or other token counts than its file has."""
    forget_files(attachment_dir)
    document = copy.deepcopy(exported)
    document["turns"][0]["attachments"][0].update(width=9999, height=1)
    document["turns"][0]["attachments"][1]["token_counts"] = {"o200k_base": 1}
    copy_ = conversations_import(owner=alice, data=json.dumps(document).encode()).imported[0].conversation
    first = copy_.turns.order_by("id")[0].attachments
    assert (first[0]["width"], first[0]["height"]) == (40, 30)
    assert first[1]["token_counts"] == count_all("# Notes\n\nCache for an hour.\n")


def test_a_polyglot_image_is_stored_re_encoded_under_its_new_hash(alice, exported, attachment_dir):
    """An image with HTML after its end passes its hash check, and is stored as pixels alone."""
    forget_files(attachment_dir)
    document = copy.deepcopy(exported)
    hostile = png((12, 8), (1, 2, 3)) + b"<html><script>alert(document.cookie)</script></html>"
    given = attach(document, hostile, "cat.png", turn=2, width=12, height=8)
    copy_ = conversations_import(owner=alice, data=json.dumps(document).encode()).imported[0].conversation
    descriptor = copy_.turns.order_by("id")[2].attachments[1]
    assert descriptor["sha256"] != given and descriptor["name"] == "cat.png"
    stored = storage.read(storage.blob_name(descriptor["sha256"]))
    assert b"<script" not in stored and descriptor["size"] == len(stored)
    assert storage.digest(stored) == descriptor["sha256"]
    assert not Blob.objects.filter(pk=given).exists()
    assert not storage.attachment_storage().exists(storage.blob_name(given))
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (12, 8)


# --- import: refused whole ----------------------------------------------------------------------


def _bad_base64(document):
    sha = next(iter(document["files"]))
    document["files"][sha]["data"] = "bm90IGJhc2U2NA=@="


def _changed_bytes(document):
    sha = next(iter(document["files"]))
    data = base64.b64decode(document["files"][sha]["data"])
    document["files"][sha]["data"] = b64(data[:-1] + bytes([data[-1] ^ 1]))


def _missing_file(document):
    del document["files"][document["turns"][2]["attachments"][0]["sha256"]]


def _unused_file(document):
    for turn in document["turns"]:
        turn["attachments"] = [d for d in turn["attachments"] if d["kind"] != "text"]


def _wrong_size(document):
    sha = next(iter(document["files"]))
    document["files"][sha]["size"] += 1


def _not_allowed(document):
    attach(document, b"MZ\x90\x00\x03\x00binary", "tool.exe", kind="text", media_type="text/plain")


def _not_an_image(document):
    attach(document, b"\x89PNG\r\n\x1a\nnot really", "broken.png")


def _not_utf8(document):
    attach(document, "caf\u00e9".encode("latin-1"), "menu.txt", kind="text", media_type="text/plain")


def _on_a_reply(document):
    document["turns"][1]["attachments"] = list(document["turns"][0]["attachments"])


def _in_version_3(document):
    document["version"] = 3


def _bad_key(document):
    sha = next(iter(document["files"]))
    document["files"]["NOT-A-HASH"] = document["files"].pop(sha)


BAD_FILES = {
    "bad base64": (_bad_base64, '(diagram.png): "data" is not valid base64'),
    "hash mismatch": (_changed_bytes, "(diagram.png): its data does not match its key: the SHA-256 of its bytes is"),
    "missing file": (
        _missing_file,
        'turns[0] (id {q1}): "attachments[0]" (diagram.png) names the file {image12}…, which is not in the '
        "export's \"files\"",
    ),
    "file no prompt carries": (_unused_file, "no prompt of the export carries this file; remove it from \"files\"."),
    "size not the data's": (_wrong_size, '(diagram.png): "size" is '),
    "not an allowed type": (_not_allowed, "tool.exe is not a kind of file Workbench reads"),
    "not an image": (_not_an_image, "broken.png is not an image Workbench can read"),
    "not UTF-8": (_not_utf8, "menu.txt is not UTF-8 text"),
    "files on a reply": (_on_a_reply, "a assistant turn cannot carry attached files; only prompts (role user) can."),
    "files in version 3": (_in_version_3, 'a version 3 file cannot hold attached files ("files", "attachments")'),
    "a key that is no hash": (_bad_key, "has the key 'NOT-A-HASH', which must be a SHA-256"),
}


def refused_leaving_nothing(owner, document, location: Path, expected: str) -> None:
    counts = Conversation.objects.count(), Turn.objects.count(), Blob.objects.count()
    before = stored_files(location)
    with pytest.raises(ImportProblem) as refused:
        conversations_import(owner=owner, data=json.dumps(document).encode())
    assert expected in refused.value.message
    assert (Conversation.objects.count(), Turn.objects.count(), Blob.objects.count()) == counts
    assert stored_files(location) == before


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused_with_its_reason_and_nothing_written(case, alice, attached, exported, attachment_dir):
    conversation, turns = attached
    document = copy.deepcopy(exported)
    mutate, expected = BAD_FILES[case]
    mutate(document)
    image12 = turns[0].attachments[0]["sha256"][:12]
    refused_leaving_nothing(alice, document, attachment_dir, expected.format(q1=turns[0].id, image12=image12))


def test_a_file_over_the_size_limit_is_refused(alice, exported, attachment_dir, settings):
    image = next(sha for sha, file in exported["files"].items() if file["kind"] == "image")
    size = exported["files"][image]["size"]
    settings.ATTACHMENT_MAX_FILE_BYTES = size - 1
    refused_leaving_nothing(
        alice, exported, attachment_dir,
        f'files["{image[:12]}…"] (diagram.png) is {size} bytes: an attached file may be at most {size - 1} bytes '
        "(WORKBENCH_ATTACHMENT_MAX_FILE_BYTES).",
    )


def test_a_kind_no_longer_accepted_is_refused_even_when_stored(alice, exported, attachment_dir, settings):
    settings.ATTACHMENT_KINDS = ["text"]
    refused_leaving_nothing(alice, exported, attachment_dir, "(diagram.png) is an image; this workbench no longer")


def test_a_new_image_of_a_kind_not_accepted_is_refused(alice, exported, attachment_dir, settings):
    forget_files(attachment_dir)
    settings.ATTACHMENT_KINDS = ["text", "pdf"]
    refused_leaving_nothing(alice, exported, attachment_dir, "diagram.png is an image; this Workbench accepts")


def test_an_import_over_the_quota_is_refused(bob, exported, attachment_dir, settings):
    forget_files(attachment_dir)
    sizes = sum(file["size"] for file in exported["files"].values())
    settings.ATTACHMENT_QUOTA_BYTES = sizes - 1
    refused_leaving_nothing(
        bob, exported, attachment_dir,
        f"Its attached files would add {sizes} bytes to your attached files, and you have used 0 bytes of your "
        f"{sizes - 1} bytes",
    )
    settings.ATTACHMENT_QUOTA_BYTES = sizes
    assert conversations_import(owner=bob, data=json.dumps(exported).encode()).imported


def test_files_already_counted_for_the_importer_cost_no_quota(alice, exported, settings):
    """alice wrote the prompts that carry them: importing her own export again adds nothing."""
    settings.ATTACHMENT_QUOTA_BYTES = 1
    assert conversations_import(owner=alice, data=json.dumps(exported).encode()).imported


def test_files_written_before_a_failure_are_removed(alice, exported, attachment_dir, monkeypatch):
    """A failure after the files were stored (here: writing the review) leaves none of them."""
    from conversations.exchange import importer

    forget_files(attachment_dir)

    def fail(**kwargs):
        raise ImportProblem("The review could not be written.")

    monkeypatch.setattr(importer, "review_import", fail)
    refused_leaving_nothing(alice, exported, attachment_dir, "The review could not be written.")
    assert stored_files(attachment_dir) == []


def test_the_import_page_says_why_a_file_was_refused(alice, exported):
    document = copy.deepcopy(exported)
    _changed_bytes(document)
    response = upload(signed_in(alice), document, name="diagrams.json")
    assert response.status_code == 400
    text = html.unescape(response.content.decode())
    assert "diagrams.json: files[" in text and "its data does not match its key" in text


# --- Markdown -------------------------------------------------------------------------------------


def test_the_markdown_export_lists_a_prompts_files_under_it(alice, attached):
    conversation, turns = attached
    q1, a1, q2, a2 = turns
    response = signed_in(alice).get(reverse("branch_export_markdown", args=[conversation.id, a2.id]))
    text = response.content.decode()
    base = f"http://testserver/c/{conversation.id}/t"
    assert (
        "## User\n\nWhat does this show?\n\n*Attached files*\n\n"
        f"- ![diagram.png]({base}/{q1.id}/files/0/)\n"
        f"- [notes.md]({base}/{q1.id}/files/1/)\n\n## Assistant"
    ) in text
    assert f"- ![again.png]({base}/{q2.id}/files/0/)\n" in text
    assert text.count("*Attached files*") == 2


def test_a_files_name_cannot_break_the_markdown(alice, attached):
    conversation, turns = attached
    q1 = turns[0]
    Turn.objects.filter(pk=q1.pk).update(attachments=[{**q1.attachments[1], "name": "a](http://evil)[b *c*"}])
    text = signed_in(alice).get(reverse("branch_export_markdown", args=[conversation.id, q1.id])).content.decode()
    assert "- [a\\](http://evil)\\[b \\*c\\*](http://testserver/" in text


# --- the tree map's data ----------------------------------------------------------------------------


def test_tree_nodes_count_each_prompts_files_in_the_same_query(attached, django_assert_num_queries):
    conversation, turns = attached
    with django_assert_num_queries(1):
        nodes = selectors.tree_nodes(conversation=conversation)
    assert [node["files"] for node in nodes] == [2, 0, 1, 0]


def test_tree_json_gives_the_count(alice, attached):
    conversation, turns = attached
    nodes = signed_in(alice).get(reverse("tree_json", args=[conversation.id])).json()["nodes"]
    assert {node["id"]: node["files"] for node in nodes} == {turns[0].id: 2, turns[1].id: 0, turns[2].id: 1,
                                                              turns[3].id: 0}
