"""What an attached file may be, and what of it is kept: no Django here.

`inspect(name, data, kinds=...)` either refuses a file (`FileRefused`, with a sentence naming the
file and the rule) or says what to store. Images are decoded and RE-ENCODED in their own format, so
only their pixels survive: metadata (EXIF, GPS, colour profiles, comments) and anything appended to
or hidden in the file (a polyglot's HTML or script) are gone, and the stored bytes are a plain image.
Text files are kept as they are, with their decoded text; a PDF is kept with the text pypdf reads.
"""
from __future__ import annotations

import codecs
import io
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image, ImageOps, ImageSequence
from pypdf import PdfReader

# No model looks at more: OpenAI fits images into 2048 × 2048, Anthropic scales beyond 1568 px.
MAX_SIDE = 2048
THUMBNAIL_SIDE = 320
# Pixels decoded for one image, every frame of an animation counted: a bound on memory and time.
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 90
WEBP_QUALITY = 90

# What Pillow finds in the content (never the name) → the type it is stored and served as. MPO is
# how Pillow names the JPEG files of phones that carry a second picture: the first one is kept.
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif"})
# What each image is saved as, and which formats keep an animation's frames.
SAVE_FORMAT = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WEBP", "GIF": "GIF"}
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})
# The start of each accepted image format, for files whose name says nothing (a pasted "image").
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")

TEXT_EXTENSIONS = frozenset({
    ".txt", ".md", ".markdown", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".xml", ".html", ".htm",
    ".css", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".py", ".rb", ".go", ".rs", ".java", ".kt", ".c", ".h",
    ".cpp", ".hpp", ".cc", ".cs", ".swift", ".php", ".sh", ".bash", ".zsh", ".sql", ".toml", ".ini", ".cfg",
    ".conf", ".log", ".r", ".lua", ".pl", ".scala", ".tex", ".diff", ".patch", ".env.example",
})
# The types a text file is described with (and sent as): plain text unless its name says more.
# Every text file is SERVED as text/plain, whatever it is described as (see views.py).
TEXT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
}
PDF_TYPE = "application/pdf"
MAX_NAME = 255

KIND_WORDS = {"image": "images (PNG, JPEG, WebP, GIF)", "text": "text files", "pdf": "PDFs"}
KIND_ONE = {"image": "an image", "text": "a text file", "pdf": "a PDF"}


class FileRefused(ValueError):
    """A file that cannot be attached, with the reason as a sentence that names it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Inspected:
    """What is stored of an accepted file.

    `kind` is "image" or "text" (a PDF is "text": its text is what a model is sent); `data` the
    bytes stored (a re-encoded image, or the file as it came); `text` a text file's text."""

    name: str
    kind: str
    media_type: str
    data: bytes
    text: str = ""
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


def clean_name(name: str) -> str:
    """The file's own name: no folders (a browser may send "C:\\fakepath\\x.png"), no control
    characters, at most 255 characters with its extension kept; "file" when nothing is left."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if len(name) > MAX_NAME:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: MAX_NAME - len(suffix)] + suffix
    return name or "file"


def extension(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(".env.example"):
        return ".env.example"
    return PurePosixPath(lowered).suffix


def human_size(size: int) -> str:
    """A size as people read it: "812 bytes", "3.4 KB", "20.0 MB", "1.0 GB"."""
    if size < 1024:
        return f"{size:,} byte{'' if size == 1 else 's'}"
    for unit, scale in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        if size < scale * 1024 or unit == "GB":
            return f"{size / scale:.1f} {unit}"
    raise AssertionError("unreachable")


def kind_of(name: str, data: bytes) -> str:
    """"image", "pdf" or "text" by the name's extension; by the first bytes when the name has an
    extension Workbench does not know, or none. "" when it is none of them."""
    ext = extension(name)
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext == ".pdf":
        return "pdf"
    if ext in TEXT_EXTENSIONS:
        return "text"
    if data.startswith(IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return "text" if ext == "" else ""


def inspect(name: str, data: bytes, *, kinds: Iterable[str] = ("image", "text", "pdf")) -> Inspected:
    """Check a file and say what to store of it; `FileRefused` says why not.

    `kinds` are those accepted (settings.ATTACHMENT_KINDS): "image", "text", "pdf"."""
    name = clean_name(name)
    allowed = [kind for kind in ("image", "text", "pdf") if kind in set(kinds)]
    words = [KIND_WORDS[kind] for kind in allowed]
    accepted = (", ".join(words[:-1]) + " and " + words[-1]) if len(words) > 1 else "".join(words) or "no files at all"
    if not data:
        raise FileRefused(f"{name} is empty: there is nothing in it to attach.")
    kind = kind_of(name, data)
    if not kind:
        raise FileRefused(f"{name} is not a kind of file Workbench reads: it accepts {accepted}.")
    if kind not in allowed:
        raise FileRefused(f"{name} is {KIND_ONE[kind]}; this Workbench accepts {accepted}.")
    if kind == "image":
        return _image(name, data)
    if kind == "pdf":
        return _pdf(name, data)
    return _text(name, data)


# --- images -------------------------------------------------------------------------------------


def _not_an_image(name: str) -> FileRefused:
    return FileRefused(f"{name} is not an image Workbench can read: it must be a PNG, JPEG, WebP or GIF file.")


def _image(name: str, data: bytes) -> Inspected:
    # First the header alone: the format is the content's, and the size is checked before a pixel
    # is decoded. Pillow raises all sorts of errors on hostile input; each means "not an image".
    try:
        with warnings.catch_warnings():
            # Pillow warns of a large image here; the limit below is ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                found, (width, height) = probe.format or "", probe.size
                frames = getattr(probe, "n_frames", 1) if found in ANIMATED_FORMATS else 1
                probe.verify()
    except Image.DecompressionBombError:
        raise _too_many_pixels(name, 0, 0, 0) from None
    except Exception:
        raise _not_an_image(name) from None
    if found not in IMAGE_TYPES:
        raise FileRefused(f"{name} is a {found} image: Workbench accepts PNG, JPEG, WebP and GIF images.")
    if width * height * frames > MAX_PIXELS or width * height == 0:
        raise _too_many_pixels(name, width, height, frames)
    try:
        with Image.open(io.BytesIO(data)) as image:
            stored, first = _reencode(image, found, animated=frames > 1)
            thumbnail = _thumbnail(first)
    except Exception:
        raise FileRefused(f"{name} is damaged: its pixels cannot be read to the end.") from None
    return Inspected(
        name=name, kind="image", media_type=IMAGE_TYPES[found], data=stored,
        width=first.width, height=first.height, thumbnail=thumbnail,
    )


def _too_many_pixels(name: str, width: int, height: int, frames: int) -> FileRefused:
    size = f" is {width:,} × {height:,} pixels" + (f" in {frames:,} frames" if frames > 1 else "") if width else ""
    return FileRefused(
        f"{name}{size or ' has too many pixels'}: an image may have at most {MAX_PIXELS // 1_000_000} "
        "megapixels (every frame of an animation counted). Make it smaller and attach it again."
    )


def _to_srgb(image: Image.Image) -> Image.Image:
    """Pixels in sRGB, so that dropping the colour profile keeps the colours; a profile that cannot
    be read is dropped as it is (the colours may shift a little)."""
    profile = image.info.get("icc_profile")
    if not profile:
        return image
    try:
        from PIL import ImageCms

        mode = "RGBA" if "A" in image.mode or "transparency" in image.info else "RGB"
        if image.mode not in ("RGB", "RGBA", "CMYK"):
            image = image.convert(mode)
        converted = ImageCms.profileToProfile(
            image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), outputMode=mode
        )
        return converted if converted is not None else image
    except Exception:
        return image


def _pixels(image: Image.Image, save_format: str) -> Image.Image:
    """The image's pixels alone, in a mode its format saves, no larger than MAX_SIDE on its long side."""
    image = _to_srgb(image)
    alpha = "A" in image.mode or "transparency" in image.info
    keep: tuple[str, ...]
    if save_format == "JPEG":
        keep = ("RGB", "L")
    elif save_format == "PNG":
        keep = ("RGB", "RGBA", "L", "LA", "I;16")
    else:  # WebP; GIF is quantised back to a palette when it is saved
        keep = ("RGB", "RGBA")
    if image.mode not in keep:
        image = image.convert("RGBA" if alpha and save_format != "JPEG" else "RGB")
    else:
        image = image.copy()
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    image.info = {}  # nothing of the original's metadata is written back
    return image


def _save_options(save_format: str) -> dict:
    if save_format == "JPEG":
        return {"quality": JPEG_QUALITY, "optimize": True}
    if save_format == "WEBP":
        return {"quality": WEBP_QUALITY}
    return {}


def _reencode(image: Image.Image, found: str, *, animated: bool) -> tuple[bytes, Image.Image]:
    """The image saved afresh in its own format (every frame of an animation, with their timing),
    and its first frame."""
    save_format = SAVE_FORMAT[found]
    out = io.BytesIO()
    if animated:
        loop = image.info.get("loop", 0)
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            durations.append(int(frame.info.get("duration", 100) or 100))
            frames.append(_pixels(frame.convert("RGBA"), save_format))
        options = {"disposal": 2} if save_format == "GIF" else {}
        frames[0].save(out, format=save_format, save_all=True, append_images=frames[1:], duration=durations,
                       loop=loop, **options, **_save_options(save_format))
        return out.getvalue(), frames[0]
    still = _pixels(ImageOps.exif_transpose(image), save_format)
    still.save(out, format=save_format, **_save_options(save_format))
    return out.getvalue(), still


def _thumbnail(image: Image.Image) -> bytes:
    small = image.convert("RGBA" if "A" in image.mode else "RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=80)
    return out.getvalue()


# --- text and PDF -------------------------------------------------------------------------------


def decode_text(name: str, data: bytes) -> str:
    """The text of a UTF-8 file (its BOM dropped) or of a UTF-16 file with a BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, body = "utf-16", data  # the codec reads the BOM and drops it
    else:
        encoding, body = "utf-8", data.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        raise FileRefused(
            f"{name} is not UTF-8 text: save it as UTF-8 (or UTF-16 with a byte order mark) and attach it again."
        ) from None
    if "\x00" in text:
        raise FileRefused(f"{name} is not a text file: it contains NUL bytes, as binary files do.")
    return text


def _text(name: str, data: bytes) -> Inspected:
    text = decode_text(name, data)
    return Inspected(name=name, kind="text", media_type=TEXT_TYPES.get(extension(name), "text/plain"),
                     data=data, text=text)


def _pdf(name: str, data: bytes) -> Inspected:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception:
        raise FileRefused(f"{name} is damaged or not a PDF: Workbench cannot read it.") from None
    if encrypted:
        # A PDF locked only against printing or copying opens with the empty password, as in any
        # reader; one that asks for a password cannot be read.
        try:
            opened = bool(reader.decrypt(""))
        except Exception:
            opened = False
        if not opened:
            raise FileRefused(f"{name} is protected by a password: remove the password and attach it again.")
    try:
        pages = [(page.extract_text() or "").replace("\x00", "").strip() for page in reader.pages]
    except Exception:
        raise FileRefused(f"{name} is damaged: Workbench cannot read the text of its pages.") from None
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise FileRefused(f"{name} has no text to read: a scanned PDF needs OCR first.")
    return Inspected(name=name, kind="text", media_type=PDF_TYPE, data=data, text=text)
