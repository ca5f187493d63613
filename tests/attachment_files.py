"""Sample files for attachment tests, made here from nothing (no fixtures on disk), and a helper
that makes turns carrying attachments.

Every function returns the bytes of one small, real file; the arguments say what is in it. Images
are a single colour unless said otherwise, so a test can check a pixel after re-encoding.
"""
from __future__ import annotations

import io
import zlib

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

RED = (220, 30, 30)
GREEN = (30, 180, 60)
BLUE = (40, 60, 220)


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color=RED, mode: str = "RGB", **save) -> bytes:
    """An image of one colour in `fmt` ("PNG", "JPEG", "WEBP", "GIF", or any Pillow writes:
    "BMP", "TIFF"...); `save` goes to Pillow's save (exif=..., icc_profile=..., quality=...)."""
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def png(size=(64, 48), color=RED, **save) -> bytes:
    return image("PNG", size, color, **save)


def jpeg(size=(64, 48), color=RED, **save) -> bytes:
    return image("JPEG", size, color, **save)


def webp(size=(64, 48), color=RED, **save) -> bytes:
    return image("WEBP", size, color, **save)


def gif(size=(64, 48), color=RED, **save) -> bytes:
    return image("GIF", size, color, **save)


def animated_gif(colors=(RED, GREEN, BLUE), size=(40, 30), duration: int = 120) -> bytes:
    """An animated GIF, one frame per colour."""
    frames = [Image.new("RGB", size, color) for color in colors]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return out.getvalue()


def exif(orientation: int | None = None, gps: bool = True, camera: str = "Secret-Camera-7781") -> bytes:
    """EXIF bytes for Pillow's save(exif=...): a camera model, GPS coordinates, an orientation."""
    data = Image.Exif()
    data[0x0110] = camera  # Model
    if orientation is not None:
        data[0x0112] = orientation
    if gps:
        data[0x8825] = {1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 39.0)}  # GPSInfo
    return data.tobytes()


HTML_PAYLOAD = b"<html><body><script>alert(document.cookie)</script></body></html>"


def png_with_html() -> bytes:
    """A valid PNG with an HTML page and a script appended after its end: a polyglot that a
    browser sniffing the content could run."""
    return png() + HTML_PAYLOAD


def gif_js_polyglot() -> bytes:
    """A file that is both a GIF (Pillow opens it) and JavaScript: the header `GIF89a` followed by
    a width that reads as `=` and a comment in JavaScript; the script runs `alert(1)` when loaded
    as a script. Its image is 2 × 2 pixels."""
    body = gif((2, 2))
    # Replace the logical screen width (bytes 6–7) with "/*" so JS sees GIF89a/*...*/=alert(1)//
    header = b"GIF89a/*" + body[8:]
    return header + b"*/=alert(1);//" + HTML_PAYLOAD


def html_named_png() -> tuple[str, bytes]:
    """An HTML page with an image's name."""
    return "photo.png", HTML_PAYLOAD


def bomb_png(side: int = 10_000) -> bytes:
    """A PNG whose header says `side` × `side` pixels (100 megapixels by default) with a few
    bytes of compressed zeros: opening it costs nothing, decoding it would cost gigabytes."""
    raw = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # a few rows; the rest is missing

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def pdf(*pages: str) -> bytes:
    """A real PDF with one page per string, each written in Helvetica (pypdf reads it back);
    a page given as "" has no text, as a scanned page."""
    writer = PdfWriter()
    for text in pages or ("Hello from a PDF",):
        page = writer.add_blank_page(width=612, height=792)
        font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        })
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)}),
        })
        lines = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.splitlines()]
        ops = "".join(f"({line}) Tj 0 -16 Td " for line in lines)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td {ops}ET".encode("latin-1") if text else b"")
        page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(text: str = "Secret text", password: str = "open-sesame") -> bytes:
    """A PDF that opens only with `password`; with password "" one anyone can open (locked only
    against changes, as many are)."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf(text)))
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- turns with attachments ---------------------------------------------------------------------


def upload(owner, name: str = "red.png", data: bytes | None = None):
    """An upload of `owner`'s through the upload service (a PNG by default)."""
    from conversations.attachments.uploads import upload_create

    return upload_create(owner=owner, name=name, data=png() if data is None else data)


def descriptor(upload_row) -> dict:
    """The descriptor a turn keeps of an upload's file (Turn.attachments' shape)."""
    blob = upload_row.blob
    described = {"sha256": blob.sha256, "name": upload_row.name, "kind": blob.kind,
                 "media_type": blob.media_type, "size": blob.size}
    if blob.kind == "image":
        described |= {"width": blob.width, "height": blob.height}
    else:
        described["token_counts"] = blob.token_counts
    return described


def attached_turn(conversation, parent, author, *uploads, content: str = "Look at this"):
    """A prompt by `author` under `parent` carrying the files of `uploads` (in order), linked to
    their stored files as a send links them; the uploads are used up, as sending does."""
    from conversations.attachments.services import link_blobs
    from conversations.models import Turn
    from conversations.tokens import count_all

    turn = Turn.objects.append(
        conversation=conversation, parent=parent, role="user", content=content,
        token_counts=count_all(content), author=author, attachments=[descriptor(u) for u in uploads],
    )
    link_blobs([turn])
    for used in uploads:
        used.delete()
    return turn
