"""A prompt's attachments as every API gets them: text files as delimited documents placed before
the prompt's own text, images as base64 (alone, or in a data URL).

The documents follow Anthropic's multi-document form (docs.anthropic.com, "Long context prompting
tips": put long documents at the top, each in <document> tags with <source> and
<document_content>); every API gets the same text, so a branch reads the same to any model. The
text inside <document_content> is sent as it is: a model reads it raw, and escaping would change
what it reads. Only a file's name is escaped, so that no name ("a</source>.md", quotes) can close
or bend the tags around it.
"""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable

from conversations.providers.base import Attachment, Message

# Characters that would break a name onto another line or hide in it.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def source_name(name: str) -> str:
    """A file's name as it stands inside <source>: markup characters escaped, line breaks and
    other control characters turned into spaces."""
    return html.escape(_CONTROL.sub(" ", name), quote=True)


def document(index: int, attachment: Attachment) -> tuple[str, str]:
    """The text around a document's content: what comes before it and what comes after."""
    before = f'<document index="{index}"><source>{source_name(attachment.name)}</source><document_content>\n'
    return before, "\n</document_content></document>"


DOCUMENTS_OPEN = "<documents>\n"
DOCUMENTS_CLOSE = "\n</documents>"
# Between the documents and the prompt's own text.
AFTER_DOCUMENTS = "\n\n"


def texts(message: Message) -> list[Attachment]:
    return [a for a in message.attachments if a.kind == "text"]


def images(message: Message) -> list[Attachment]:
    return [a for a in message.attachments if a.kind == "image"]


def documents_block(attachments: list[Attachment]) -> str:
    """The text files, in order, as one <documents> block ("" for none)."""
    if not attachments:
        return ""
    documents = []
    for index, attachment in enumerate(attachments, start=1):
        before, after = document(index, attachment)
        documents.append(before + attachment.text + after)
    return DOCUMENTS_OPEN + "\n".join(documents) + DOCUMENTS_CLOSE


def user_text(message: Message) -> str:
    """A message's text as sent: its text files' documents, a blank line, then its own text
    (either alone when the other is empty)."""
    block = documents_block(texts(message))
    if block and message.content:
        return block + AFTER_DOCUMENTS + message.content
    return block or message.content


def base64_of(attachment: Attachment) -> str:
    return base64.b64encode(attachment.data).decode("ascii")


def data_url(attachment: Attachment) -> str:
    """An image as a data URL (RFC 2397), as OpenAI's APIs take an image that is not on the web."""
    return f"data:{attachment.media_type};base64,{base64_of(attachment)}"


def content(
    message: Message,
    *,
    text_part: Callable[[str], dict],
    image_part: Callable[[Attachment], dict],
    images_first: bool = False,
) -> str | list[dict]:
    """A user message's content in one API's parts: its plain text when it carries no image (text
    files' documents first), else a text part and one part per image, in the order the API advises.
    No empty text part is sent for a prompt that is only images (Anthropic refuses one)."""
    if not message.attachments:
        return message.content
    text = user_text(message)
    pictures = [image_part(image) for image in images(message)]
    if not pictures:
        return text
    words = [text_part(text)] if text else []
    return pictures + words if images_first else words + pictures
