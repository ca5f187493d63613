"""A reply's attachments in "What the model saw" and "Get code".

The request body holds each image as base64 (megabytes of it) and each text file's text inside the
prompt's documents block. What the model saw shows an image as a short placeholder and a text file
in full. Get code writes a script that reads each file from the folder it is in, so the script stays
short and sends the same bytes: an image's base64 and a text file's text are expressions reading a
file, everything else stays a Python literal. A PDF's text cannot be read back from the PDF the same
way by the standard library, so it stays written out, as it was sent.

The files are found in the body by value: an image by its exact data URL or base64 string, a text
file by its whole document (the tags around it included), so no other text is ever taken for one.
"""
from __future__ import annotations

import ast
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from conversations.attachments.files import human_size
from conversations.models import Turn
from conversations.providers import parts
from conversations.providers.base import Attachment, Message


@dataclass(frozen=True)
class SentFile:
    """A file a request carried, and the name a script reads it from ("" for a PDF's text)."""

    attachment: Attachment
    pdf: bool = False
    script_name: str = ""


def sent_files(messages: Sequence[Message], turns: Sequence[Turn]) -> tuple[SentFile, ...]:
    """The distinct files the messages carry, in the order attached, each with a safe name of its
    own for a script (the same content, attached twice, is one file)."""
    seen: dict[tuple[str, bytes, str], SentFile] = {}
    taken: set[str] = set()
    for turn, message in zip(turns, messages, strict=True):
        # Images may have been left out of the message, never text files: the n-th text file of
        # the message is the n-th of the turn.
        pdfs = [d.get("media_type") == "application/pdf" for d in turn.attachments or () if d.get("kind") != "image"]
        texts = 0
        for attachment in message.attachments:
            if attachment.kind == "image":
                key = ("image", attachment.data, "")
                if key not in seen:
                    seen[key] = SentFile(attachment, script_name=_unique(attachment, taken))
                continue
            pdf = texts < len(pdfs) and pdfs[texts]
            texts += 1
            key = ("text", b"", attachment.text)
            if key not in seen:
                name = "" if pdf or not attachment.text else _unique(attachment, taken)
                seen[key] = SentFile(attachment, pdf=pdf, script_name=name)
    return tuple(seen.values())


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


def script_name(name: str, media_type: str = "") -> str:
    """A file name a script can hold and a folder can have: ASCII letters, digits, ".", "_" and
    "-" only, starting with a letter or digit (so never "..", never hidden), never a path."""
    base = PurePosixPath(name.replace("\\", "/")).name
    dot = base.rfind(".")
    stem, extension = (base[:dot], base[dot + 1 :]) if dot > 0 else (base, "")
    stem = _UNSAFE.sub("_", stem).strip("._-")[:80]
    extension = re.sub(r"[^A-Za-z0-9]", "", extension)[:10]
    if not stem:
        return "file." + (extension or _EXTENSIONS.get(media_type, ".txt")[1:])
    return f"{stem}.{extension}" if extension else stem


def _unique(attachment: Attachment, taken: set[str]) -> str:
    name = script_name(attachment.name, attachment.media_type)
    path, number = PurePosixPath(name), 2
    while name in taken:
        name = f"{path.stem}-{number}{path.suffix}"
        number += 1
    taken.add(name)
    return name


# --- What the model saw ---------------------------------------------------------------------------


def placeholder(image: Attachment) -> str:
    return f"<image: {image.name}, {image.media_type}, {image.width}×{image.height}, {human_size(len(image.data))}>"


def _image_values(files: Sequence[SentFile]) -> dict[str, tuple[SentFile, str]]:
    """Each image's strings as a body holds them: its data URL and its bare base64."""
    found = {}
    for file in files:
        if file.attachment.kind == "image":
            found[parts.data_url(file.attachment)] = (file, "data_url")
            found[parts.base64_of(file.attachment)] = (file, "base64_of")
    return found


def _map_strings(value: Any, change) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    return value


def shown_body(body: dict, files: Sequence[SentFile]) -> dict:
    """The body with each image's data replaced by a placeholder naming it."""
    images = _image_values(files)
    if not images:
        return body
    return _map_strings(body, lambda text: placeholder(images[text][0].attachment) if text in images else text)


def described(files: Sequence[SentFile]) -> list[dict]:
    return [
        {
            "name": f.attachment.name, "kind": f.attachment.kind, "pdf": f.pdf,
            "media_type": "application/pdf" if f.pdf else f.attachment.media_type,
            "size": len(f.attachment.data) if f.attachment.kind == "image" else len(f.attachment.text.encode()),
            **({"width": f.attachment.width, "height": f.attachment.height} if f.attachment.kind == "image" else {}),
        }
        for f in files
    ]


# --- Get code -----------------------------------------------------------------------------------

FILE_HELPERS = {
    "base64_of": '''def base64_of(name):
    return base64.b64encode((FOLDER / name).read_bytes()).decode("ascii")
''',
    "data_url": '''def data_url(name, media_type):
    return "data:" + media_type + ";base64," + base64_of(name)
''',
    "text_of": '''def text_of(name):
    data = (FOLDER / name).read_bytes()
    # Read as the workbench read it: UTF-16 with its byte order mark, or else UTF-8 (a BOM dropped).
    return data.decode("utf-16") if data[:2] in (b"\\xff\\xfe", b"\\xfe\\xff") else data.decode("utf-8-sig")
''',
}


def _code(value: str) -> str:
    """A string as a one-line Python literal, proved by reading it back."""
    text = repr(value)
    if "\n" in text or "\r" in text or ast.literal_eval(text) != value:
        raise ValueError("not a one-line literal")
    return text


@dataclass
class ScriptFiles:
    """A body whose file contents are tokens, and the expression each token stands for."""

    body: dict
    expressions: dict[str, str]
    used: set[str]  # the helpers the expressions call

    def substitute(self, code: str) -> str:
        for token, expression in self.expressions.items():
            literal = repr(token)
            if code.count(literal) < 1:
                raise ValueError("a file's place was lost in the script")
            code = code.replace(literal, expression)
        return code


def script_files(body: dict, files: Sequence[SentFile], messages: Sequence[Message]) -> ScriptFiles:
    """The body with each image and each text file (not a PDF's text) replaced by a token that
    `ScriptFiles.substitute` turns into the expression reading it from a file."""
    nonce = secrets.token_hex(16)
    out = ScriptFiles(body, {}, set())
    images = _image_values(files)
    by_text = {f.attachment.text: f for f in files if f.attachment.kind == "text" and not f.pdf}
    # (before, text, after, script name) of each text file as its message sent it.
    documents: list[tuple[str, str, str, str]] = []
    for message in messages:
        for index, attachment in enumerate(parts.texts(message), start=1):
            file = by_text.get(attachment.text)
            if file is not None and attachment.text:
                before, after = parts.document(index, attachment)
                documents.append((before, attachment.text, after, file.script_name))

    def token(expression: str, helper: str) -> str:
        key = f"@@file-{nonce}-{len(out.expressions)}@@"
        out.expressions[key] = expression
        out.used.add(helper)
        return key

    def change(text: str) -> str:
        if text in images:
            file, helper = images[text]
            args = [_code(file.script_name)] + ([_code(file.attachment.media_type)] if helper == "data_url" else [])
            return token(f"{helper}({', '.join(args)})", helper)
        pieces = _split_documents(text, documents)
        if len(pieces) == 1:
            return text
        expression = " + ".join(
            f"text_of({_code(piece[1])})" if isinstance(piece, tuple) else _code(piece) for piece in pieces if piece
        )
        return token(expression, "text_of")

    out.body = _map_strings(body, change)
    return out


def _split_documents(text: str, documents: list[tuple[str, str, str, str]]) -> list[str | tuple[str, str]]:
    """`text` as literal pieces and ("file", name) pieces where a whole document's content is."""
    pieces: list[str | tuple[str, str]] = []
    position = 0
    while documents:
        best = None
        for before, content, after, name in documents:
            at = text.find(before + content + after, position)
            if at >= 0 and (best is None or at < best[0]):
                best = (at + len(before), len(content), name)
        if best is None:
            break
        start, length, name = best
        pieces.extend([text[position:start], ("file", name)])
        position = start + length
    pieces.append(text[position:])
    return pieces


def file_section(files: Sequence[SentFile], used: set[str], comment) -> str:
    """The lines of a script that read the files: which to put beside it, and the helpers."""
    listed = [f.script_name for f in files if f.script_name]
    pdfs = [script_name(f.attachment.name) for f in files if f.pdf]
    lines = comment("The prompts' files, read from the folder this script is in: put them there first.")
    lines += "".join(comment(f"  {name}") for name in listed)
    if pdfs:
        lines += comment("The text of " + ", ".join(pdfs) + " (as extracted from the PDF) is written out below.")
    lines += "FOLDER = Path(__file__).resolve().parent\n"
    for helper in ("base64_of", "data_url", "text_of"):
        if helper in used or (helper == "base64_of" and "data_url" in used):
            lines += "\n\n" + FILE_HELPERS[helper]
    return lines
