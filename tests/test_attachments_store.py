"""Uploading, storing and serving attached files, through real HTTP on the test client and a real
database and storage (a folder of each test's own: tests/conftest.py).

Each refusal is checked for its sentence and for writing nothing: no Blob, no Upload, no file."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageSequence

from conversations.attachments import files
from conversations.attachments.models import Blob, Upload
from conversations.attachments.storage import blob_name, digest, thumbnail_name
from conversations.tokens import count_all
from tests import attachment_files as sample
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, max-age=31536000, immutable",
}


def stored_files(location: Path) -> list[str]:
    return sorted(str(p.relative_to(location)) for p in location.rglob("*") if p.is_file())


def post(client, name: str, data: bytes, **extra):
    return client.post("/files/", {"file": SimpleUploadedFile(name, data)}, **extra)


def nothing_written(location: Path) -> bool:
    return not Blob.objects.exists() and not Upload.objects.exists() and stored_files(location) == []


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture
def client(alice):
    return signed_in(alice)


# --- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,media_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                            ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_each_image_format_is_accepted_re_encoded_and_served(client, _attachment_storage, fmt, media_type):
    original = sample.image(fmt, (64, 48), exif=sample.exif()) if fmt != "GIF" else sample.gif()
    uploaded = original + sample.HTML_PAYLOAD
    response = post(client, f"picture.{fmt.lower()}", uploaded)
    assert response.status_code == 201, response.content
    data = response.json()
    upload = Upload.objects.get()
    assert data == {
        "id": str(upload.id), "name": f"picture.{fmt.lower()}", "kind": "image", "media_type": media_type,
        "size": upload.blob.size, "width": 64, "height": 48, "token_counts": {},
        "url": f"/files/{upload.id}/", "thumbnail_url": f"/files/{upload.id}/?thumb=1",
    }
    served = client.get(data["url"])
    assert served.status_code == 200
    body = b"".join(served.streaming_content)
    # Only the pixels came back: no EXIF (camera, GPS), nothing appended.
    assert body != uploaded and b"Secret-Camera" not in body and b"GPS" not in body and b"<script" not in body
    image = opened(body)
    assert image.format == fmt and image.size == (64, 48) and not image.getexif()
    assert image.convert("RGB").getpixel((10, 10)) == pytest.approx(sample.RED, abs=12)
    assert served["Content-Type"] == media_type
    assert served["ETag"] == f'"{upload.blob.sha256}"'
    assert upload.blob.sha256 == digest(body)
    for header, value in SECURITY_HEADERS.items():
        assert served[header] == value
    assert served["Content-Disposition"] == f"inline; filename*=UTF-8''picture.{fmt.lower()}"
    thumb = client.get(data["thumbnail_url"])
    assert thumb["Content-Type"] == "image/webp" and opened(b"".join(thumb.streaming_content)).format == "WEBP"


def test_a_png_with_html_appended_comes_back_a_clean_png(client):
    data = post(client, "shot.png", sample.png_with_html()).json()
    body = b"".join(client.get(data["url"]).streaming_content)
    assert b"<html" not in body and b"script" not in body
    assert body.endswith(b"IEND\xaeB`\x82")  # the PNG ends where a PNG ends
    assert opened(body).format == "PNG"


def test_a_gif_that_is_also_javascript_comes_back_a_plain_gif(client):
    polyglot = sample.gif_js_polyglot()
    assert polyglot.startswith(b"GIF89a/*")
    data = post(client, "funny.gif", polyglot).json()
    body = b"".join(client.get(data["url"]).streaming_content)
    assert b"alert" not in body and b"/*" not in body[:8]
    assert opened(body).format == "GIF"
    # Its header said 10,799 pixels wide: scaled to fit 2048.
    assert (data["width"], data["height"]) == (2048, 1)


def test_an_html_page_named_png_is_refused(client, _attachment_storage):
    name, data = sample.html_named_png()
    response = post(client, name, data)
    assert response.status_code == 400
    assert response.json()["error"] == (
        "photo.png is not an image Workbench can read: it must be a PNG, JPEG, WebP or GIF file."
    )
    assert nothing_written(_attachment_storage)


def test_an_image_is_refused_in_a_format_not_accepted_whatever_its_name(client, _attachment_storage):
    response = post(client, "scan.png", sample.image("TIFF"))
    assert response.status_code == 400
    assert response.json()["error"] == "scan.png is a TIFF image: Workbench accepts PNG, JPEG, WebP and GIF images."
    assert nothing_written(_attachment_storage)


def test_a_decompression_bomb_is_refused_before_it_is_decoded(client, _attachment_storage):
    response = post(client, "bomb.png", sample.bomb_png())
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "bomb.png is 10,000 × 10,000 pixels: an image may have at most 50 megapixels")
    assert nothing_written(_attachment_storage)


def test_a_truncated_image_is_refused(client, _attachment_storage):
    data = sample.png((300, 300), color=(1, 2, 3), compress_level=0)
    response = post(client, "cut.png", data[: len(data) // 2])
    assert response.status_code == 400 and "cut.png" in response.json()["error"]
    assert nothing_written(_attachment_storage)


def test_a_large_image_is_scaled_to_2048_on_its_long_side_and_has_a_small_thumbnail(client, _attachment_storage):
    data = post(client, "wide.jpg", sample.jpeg((4100, 1000))).json()
    assert (data["width"], data["height"]) == (2048, 500)
    blob = Blob.objects.get()
    assert (blob.width, blob.height) == (2048, 500)
    assert opened((_attachment_storage / blob_name(blob.sha256)).read_bytes()).size == (2048, 500)
    thumbnail = opened((_attachment_storage / thumbnail_name(blob.sha256)).read_bytes())
    assert thumbnail.format == "WEBP" and thumbnail.size == (320, 78)


def test_a_tall_photo_is_turned_as_its_exif_says(client):
    # Orientation 6: the camera was turned; the stored pixels are upright, with no EXIF left.
    data = post(client, "phone.jpg", sample.jpeg((80, 40), exif=sample.exif(orientation=6))).json()
    assert (data["width"], data["height"]) == (40, 80)


def test_an_animated_gif_keeps_its_frames_and_their_timing(client):
    data = post(client, "wave.gif", sample.animated_gif(duration=120)).json()
    image = Image.open(io.BytesIO(b"".join(client.get(data["url"]).streaming_content)))
    colours = [frame.convert("RGB").getpixel((5, 5)) for frame in ImageSequence.Iterator(image)]
    assert colours == [sample.RED, sample.GREEN, sample.BLUE]
    assert image.info["duration"] == 120
    # Its thumbnail is its first frame.
    thumb = opened(b"".join(client.get(data["thumbnail_url"]).streaming_content))
    assert thumb.convert("RGB").getpixel((5, 5)) == pytest.approx(sample.RED, abs=12)


# --- text and PDF --------------------------------------------------------------------------------


@pytest.mark.parametrize("name,data,text,media_type", [
    ("notes.md", "# Title\nnaïve café ✓".encode(), "# Title\nnaïve café ✓", "text/markdown"),
    ("bom.txt", b"\xef\xbb\xbfwith a BOM", "with a BOM", "text/plain"),
    ("wide.csv", "a,b\n1,ü".encode("utf-16"), "a,b\n1,ü", "text/csv"),
    ("data.json", b'{"a": 1}', '{"a": 1}', "application/json"),
    ("Makefile", b"all:\n\techo hi\n", "all:\n\techo hi\n", "text/plain"),
    (".env.example", b"KEY=value\n", "KEY=value\n", "text/plain"),
    ("page.html", b"<script>alert(1)</script>", "<script>alert(1)</script>", "text/plain"),
])
def test_text_files_are_decoded_and_counted(client, name, data, text, media_type):
    response = post(client, name, data)
    assert response.status_code == 201, response.content
    payload = response.json()
    assert (payload["kind"], payload["media_type"], payload["size"]) == ("text", media_type, len(data))
    assert payload["token_counts"] == count_all(text) and payload["thumbnail_url"] is None
    blob = Blob.objects.get()
    assert blob.text == text
    served = client.get(payload["url"])
    # The file as it came, always as plain text: an HTML file does not render.
    assert b"".join(served.streaming_content) == data
    charset = "utf-16" if data.startswith(b"\xff\xfe") else "utf-8"
    assert served["Content-Type"] == f"text/plain; charset={charset}"
    assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert client.get(payload["url"] + "?thumb=1").status_code == 404


@pytest.mark.parametrize("name,data,error", [
    ("latin.txt", "café".encode("latin-1"),
     "latin.txt is not UTF-8 text: save it as UTF-8 (or UTF-16 with a byte order mark) and attach it again."),
    ("binary.txt", b"abc\x00def", "binary.txt is not a text file: it contains NUL bytes, as binary files do."),
    ("report.docx", b"PK\x03\x04zip",
     "report.docx is not a kind of file Workbench reads: it accepts images (PNG, JPEG, WebP, GIF), "
     "text files and PDFs."),
    ("empty.txt", b"", "empty.txt is empty: there is nothing in it to attach."),
])
def test_text_that_cannot_be_read_is_refused(client, _attachment_storage, name, data, error):
    response = post(client, name, data)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert nothing_written(_attachment_storage)


def test_a_pdf_is_kept_with_the_text_of_its_pages(client):
    data = sample.pdf("First page (one)", "", "Third page")
    response = post(client, "paper.pdf", data)
    assert response.status_code == 201, response.content
    payload = response.json()
    assert (payload["kind"], payload["media_type"]) == ("text", "application/pdf")
    assert Blob.objects.get().text == "First page (one)\n\nThird page"
    assert payload["token_counts"] == count_all("First page (one)\n\nThird page")
    served = client.get(payload["url"])
    assert b"".join(served.streaming_content) == data
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"] == "attachment; filename*=UTF-8''paper.pdf"


@pytest.mark.parametrize("data,error", [
    (sample.encrypted_pdf(), "locked.pdf is protected by a password: remove the password and attach it again."),
    (sample.pdf(""), "locked.pdf has no text to read: a scanned PDF needs OCR first."),
    (b"%PDF-1.7\nnot really", "locked.pdf is damaged or not a PDF: Workbench cannot read it."),
])
def test_a_pdf_without_readable_text_is_refused(client, _attachment_storage, data, error):
    response = post(client, "locked.pdf", data)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert nothing_written(_attachment_storage)


def test_a_pdf_locked_only_against_changes_is_read(client):
    response = post(client, "open.pdf", sample.encrypted_pdf("Readable text", password=""))
    assert response.status_code == 201
    assert Blob.objects.get().text == "Readable text"


# --- limits ------------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_with_413(client, settings, _attachment_storage):
    settings.ATTACHMENT_MAX_FILE_BYTES = 1000
    response = post(client, "big.txt", b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == {
        "error": "big.txt is 1,001 bytes: a file may be at most 1,000 bytes (WORKBENCH_ATTACHMENT_MAX_FILE_BYTES).",
        "code": "too_large",
    }
    assert nothing_written(_attachment_storage)
    assert post(client, "fits.txt", b"x" * 1000).status_code == 201


def test_a_request_far_over_the_limit_is_refused_unread(client, settings, _attachment_storage):
    settings.ATTACHMENT_MAX_FILE_BYTES = 1000
    response = post(client, "huge.txt", b"x" * 200_000)
    assert response.status_code == 413
    assert response.json()["error"].startswith("The upload is 195.")
    assert nothing_written(_attachment_storage)


@pytest.mark.django_db(transaction=True)
async def test_uploads_and_their_limit_hold_on_the_asgi_stack(alice, settings, _attachment_storage):
    # As daphne runs it: Django's ASGI handler reads the body, then the same upload handler.
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    settings.ATTACHMENT_MAX_FILE_BYTES = 5000
    client = AsyncClient()
    await client.aforce_login(alice)
    ok = await client.post("/files/", {"file": SimpleUploadedFile("a.gif", sample.gif())})
    assert ok.status_code == 201 and ok.json()["media_type"] == "image/gif"
    refused = await client.post("/files/", {"file": SimpleUploadedFile("b.txt", b"x" * 5001)})
    assert refused.status_code == 413 and refused.json()["code"] == "too_large"
    assert await sync_to_async(Upload.objects.count)() == 1


def test_a_file_of_the_default_limit_passes_through_multipart(client, _attachment_storage):
    # Django's own upload limits do not stand in the way of a file of ATTACHMENT_MAX_FILE_BYTES.
    from django.conf import settings

    data = b"a" * (settings.ATTACHMENT_MAX_FILE_BYTES - 10) + b"\n"
    response = post(client, "big.log", data)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["size"] == len(data)


@pytest.mark.parametrize("kinds,name,data,error", [
    (["text", "pdf"], "red.png", sample.png(), "red.png is an image; this Workbench accepts text files and PDFs."),
    (["image"], "a.txt", b"hi", "a.txt is a text file; this Workbench accepts images (PNG, JPEG, WebP, GIF)."),
    (["image", "text"], "a.pdf", sample.pdf(),
     "a.pdf is a PDF; this Workbench accepts images (PNG, JPEG, WebP, GIF) and text files."),
])
def test_only_the_kinds_the_settings_name_are_accepted(client, settings, _attachment_storage, kinds, name, data, error):
    settings.ATTACHMENT_KINDS = kinds
    response = post(client, name, data)
    assert response.status_code == 400 and response.json()["error"] == error
    assert nothing_written(_attachment_storage)


def test_the_quota_counts_each_file_once_and_says_what_is_used(alice, client, settings, world_conv):
    from tests.attachment_files import attached_turn, upload

    big, other = b"a" * 600 + b"\n", b"b" * 300 + b"\n"
    settings.ATTACHMENT_QUOTA_BYTES = 1000
    first = upload(alice, "big.txt", big)
    # The same file on two branches, and uploaded again: still 601 bytes used.
    attached_turn(world_conv, None, alice, first)
    attached_turn(world_conv, None, alice, upload(alice, "big.txt", big))
    assert post(client, "again.txt", big).status_code == 201
    assert post(client, "other.txt", other).status_code == 201  # 902 of 1000
    blobs, uploads_, files_ = Blob.objects.count(), Upload.objects.count(), stored_files(settings_location(settings))
    response = post(client, "third.txt", b"c" * 200)
    assert response.status_code == 400
    assert response.json() == {
        "error": "You have used 902 bytes of your 1,000 bytes for attached files, and third.txt (200 bytes) does "
                 "not fit: discard uploads you will not send, or delete conversations you no longer need.",
        "code": "quota",
    }
    assert (Blob.objects.count(), Upload.objects.count(), stored_files(settings_location(settings))) == (
        blobs, uploads_, files_)
    # A file already counted still fits; another person's files are not counted.
    assert post(client, "big-again.txt", big).status_code == 201


def settings_location(settings) -> Path:
    return Path(settings.STORAGES["attachments"]["OPTIONS"]["location"])


@pytest.fixture
def world_conv(alice):
    from conversations import services

    return services.conversation_create(owner=alice, title="Attachments")


def test_the_same_file_twice_is_stored_once(client, alice, bob, _attachment_storage):
    first = post(client, "one.png", sample.png()).json()
    second = post(signed_in(bob), "two.png", sample.png()).json()
    assert first["id"] != second["id"]
    assert Blob.objects.count() == 1 and Upload.objects.count() == 2
    sha = Blob.objects.get().sha256
    assert stored_files(_attachment_storage) == sorted([blob_name(sha), thumbnail_name(sha)])


def test_a_stored_file_is_not_written_again(client, _attachment_storage):
    post(client, "one.txt", b"same\n")
    path = _attachment_storage / blob_name(Blob.objects.get().sha256)
    before = path.stat().st_mtime_ns
    path.write_bytes(b"same\n")  # a fresh modification time to compare with
    touched = path.stat().st_mtime_ns
    post(client, "two.txt", b"same\n")
    assert path.stat().st_mtime_ns == touched and touched >= before


def test_a_failure_after_the_file_was_written_leaves_nothing(alice, monkeypatch, _attachment_storage):
    from conversations.attachments import uploads
    from conversations.errors import ServiceError

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Upload.objects, "create", broken)
    with pytest.raises(RuntimeError):
        uploads.upload_create(owner=alice, name="a.png", data=sample.png())
    assert nothing_written(_attachment_storage)
    with pytest.raises(ServiceError):
        uploads.upload_discard(owner=alice, upload_id="00000000-0000-0000-0000-000000000000")


# --- serving and discarding -------------------------------------------------------------------


def test_an_unchanged_file_is_answered_not_modified(client):
    data = post(client, "a.png", sample.png()).json()
    etag = client.get(data["url"])["ETag"]
    again = client.get(data["url"], headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag


def test_a_name_with_any_characters_is_served_safely(client):
    data = post(client, 'résumé "final";.txt', b"text").json()
    assert data["name"] == 'résumé "final";.txt'
    served = client.get(data["url"])
    assert served["Content-Disposition"] == "inline; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B.txt"


def test_discarding_an_upload(client, alice):
    data = post(client, "a.txt", b"bye").json()
    assert client.delete(data["url"]).status_code == 204
    assert not Upload.objects.exists()
    assert client.get(data["url"]).status_code == 404
    assert client.delete(data["url"]).status_code == 404


def test_a_name_keeps_no_folders_and_no_control_characters():
    assert files.clean_name('C:\\fakepath\\a\r\nb\x00.txt') == "ab.txt"
    assert files.clean_name("../../etc/passwd") == "passwd"
    assert files.clean_name("") == "file"
    long = files.clean_name("x" * 300 + ".png")
    assert len(long) == 255 and long.endswith(".png")


def test_inspect_refuses_without_django():
    with pytest.raises(files.FileRefused, match="x.gif is not an image"):
        files.inspect("x.gif", b"GIF89a-not-really")

