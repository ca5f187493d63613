"""Sending files with a prompt, and reading them back for a model.

A send names its files by reference (refs.py): the sender's own uploads not yet sent, or files of a
turn of the same conversation (an edit keeping the original prompt's). `attach` checks them all,
under the conversation's lock and inside the send's transaction, before the prompt is written:
anything refused raises ServiceError and the transaction writes nothing. The prompt then describes
them (`Turn.attachments`), names their stored files (`Turn.blobs`), and the uploads are deleted.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from django.conf import settings as django_settings

from conversations.attachments.files import human_size
from conversations.attachments.models import Blob, Upload
from conversations.attachments.refs import AttachmentRef, TurnRef, UploadRef
from conversations.attachments.services import link_blobs
from conversations.attachments.storage import blob_name, read
from conversations.catalogue import ModelInfo
from conversations.context import attachment_tokens
from conversations.errors import ServiceError
from conversations.models import Conversation, Turn
from conversations.providers.base import Attachment, GenerationRequest

GONE = (
    "A file attached is no longer waiting to be sent: it was sent with another message, removed, or "
    "is not one of your uploads. Attach it again."
)


class StoredFile(Protocol):
    """The facts of a stored file a descriptor takes: a Blob's, or an import's file (exchange)."""

    @property
    def sha256(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def media_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...
    @property
    def token_counts(self) -> dict: ...


def descriptor(blob: StoredFile, name: str) -> dict:
    """What a prompt keeps of one attached file, in the shape Turn.attachments fixes."""
    described: dict = {
        "sha256": blob.sha256, "name": name, "kind": blob.kind, "media_type": blob.media_type, "size": blob.size,
    }
    if blob.kind == Blob.Kind.IMAGE:
        described["width"], described["height"] = blob.width, blob.height
    else:
        described["token_counts"] = dict(blob.token_counts or {})
    return described


@dataclass(frozen=True)
class Attaching:
    """The files of a prompt about to be written: its descriptors, and the uploads they came from."""

    descriptors: list[dict]
    uploads: list[str]  # ids of the Upload rows to delete once the prompt is written

    def write(self, prompt: Turn) -> None:
        """After the prompt is created with `descriptors`: its blobs linked, its uploads used up."""
        if not self.descriptors:
            return
        link_blobs([prompt])
        deleted, _ = Upload.objects.filter(pk__in=self.uploads).delete()
        if deleted != len(self.uploads):  # taken by another send since they were checked
            raise ServiceError(GONE, code="attachment_gone")


def attach(*, conversation: Conversation, author, refs: Sequence[AttachmentRef]) -> Attaching:
    """The files `refs` name, checked: the caller holds the conversation's lock in a transaction."""
    if not refs:
        return Attaching([], [])
    limit = django_settings.ATTACHMENT_MAX_FILES
    if len(refs) > limit:
        raise ServiceError(
            f"A message carries at most {limit} file{'' if limit == 1 else 's'}; this one has {len(refs)}.",
            code="too_many",
        )
    upload_ids = [ref.upload for ref in refs if isinstance(ref, UploadRef)]
    # Locked, so that two sends of one upload cannot both use it (the second finds it gone).
    uploads = {
        str(upload.pk): upload
        for upload in Upload.objects.select_for_update().filter(pk__in=upload_ids, owner=author)
    }
    turn_ids = {ref.turn for ref in refs if isinstance(ref, TurnRef)}
    turns = dict(
        Turn.objects.filter(pk__in=turn_ids, conversation=conversation).values_list("pk", "attachments")
    )
    named: list[tuple[str, str]] = []  # (sha256, name), in the order given
    for ref in refs:
        if isinstance(ref, UploadRef):
            upload = uploads.get(ref.upload)
            if upload is None:
                raise ServiceError(GONE, code="attachment_gone")
            named.append((upload.blob_id, upload.name))
            continue
        if ref.turn not in turns:
            raise ServiceError(
                f"An attached file names turn {ref.turn}, which is not in this conversation.", code="not_found"
            )
        files = turns[ref.turn] or []
        if ref.index >= len(files):
            raise ServiceError(
                f"Turn {ref.turn} has {len(files)} attached file{'' if len(files) == 1 else 's'}: there is "
                f"none at index {ref.index} (the first is 0).",
                code="not_found",
            )
        named.append((files[ref.index]["sha256"], files[ref.index]["name"]))
    blobs = Blob.objects.in_bulk({sha for sha, _ in named})
    if any(sha not in blobs for sha, _ in named):
        raise ServiceError("An attached file is no longer stored. Attach it again.", code="attachment_gone")
    total, most = sum(blobs[sha].size for sha, _ in named), django_settings.ATTACHMENT_MAX_PROMPT_BYTES
    if total > most:
        raise ServiceError(
            f"The files attached come to {human_size(total)}; a message may carry at most {human_size(most)}. "
            "Send fewer or smaller files.",
            code="too_large",
        )
    return Attaching([descriptor(blobs[sha], name) for sha, name in named], list(uploads))


def carries_images(turns: Iterable[Turn]) -> int:
    """How many images the prompts among `turns` carry."""
    return sum(
        1 for turn in turns if turn.role == Turn.Role.USER
        for described in turn.attachments or () if described.get("kind") == Blob.Kind.IMAGE
    )


def message_attachments(
    turns: Sequence[Turn], *, images: bool = True, read_images: bool = True
) -> dict[int, tuple[Attachment, ...]]:
    """Each prompt's files among `turns` as the providers send them, by turn id: an image's bytes
    from storage, a text file's text from its Blob (one query for all of them). With `images`
    false, images are left out (a send with "text_only"); with `read_images` false, an image's bytes
    are left for `with_image_bytes` to read once the prompt is written."""
    prompts = [t for t in turns if t.role == Turn.Role.USER and t.attachments]
    if not prompts:
        return {}
    shas = {d["sha256"] for t in prompts for d in t.attachments if d.get("kind") != Blob.Kind.IMAGE}
    texts = dict(Blob.objects.filter(pk__in=shas).values_list("pk", "text")) if shas else {}
    found: dict[int, tuple[Attachment, ...]] = {}
    for turn in prompts:
        files = []
        for described in turn.attachments:
            kind, name = described.get("kind"), described.get("name", "")
            if kind == Blob.Kind.IMAGE:
                if images:
                    files.append(Attachment(
                        kind="image", name=name, media_type=described["media_type"],
                        data=read(blob_name(described["sha256"])) if read_images else b"",
                        sha256=described["sha256"],
                        width=described.get("width") or 0, height=described.get("height") or 0,
                    ))
            else:
                files.append(Attachment(
                    kind="text", name=name, media_type="text/plain", text=texts.get(described["sha256"], ""),
                ))
        found[turn.id] = tuple(files)
    return found


def draft_tokens(*, owner, upload_ids: list[str], info: ModelInfo) -> tuple[list[int], int]:
    """The tokens the uploads `upload_ids` (the owner's, not yet sent) would add to a prompt for the
    model `info`: each file's own, and all of them with the delimiters text files are sent in.
    ServiceError naming an id that is not one of the owner's waiting uploads."""
    uploads = {str(u.pk): u for u in Upload.objects.select_related("blob").filter(pk__in=upload_ids, owner=owner)}
    missing = next((i for i in upload_ids if i not in uploads), None)
    if missing is not None:
        raise ServiceError(
            f"No upload of yours waiting to be sent has the id {missing}: it was sent, removed, or never yours.",
            code="not_found",
        )
    described = [descriptor(uploads[i].blob, uploads[i].name) for i in upload_ids]
    each = [attachment_tokens([d], info) if d["kind"] == Blob.Kind.IMAGE else
            (d.get("token_counts") or {}).get(info.encoding.name, 0) for d in described]
    return each, attachment_tokens(described, info)


def with_image_bytes(request: GenerationRequest) -> GenerationRequest:
    """`request` with the bytes of every image it describes, read from storage (each file once).

    A send writes its prompt and replies under the conversation's lock and reads no file there
    (with remote storage a read is a network round trip); the reply reads them here, just before
    its request goes out."""
    wanted = {
        attachment.sha256 for message in request.messages for attachment in message.attachments
        if attachment.kind == "image" and not attachment.data
    }
    if not wanted:
        return request
    data = {sha256: read(blob_name(sha256)) for sha256 in wanted}
    messages = [
        replace(message, attachments=tuple(
            replace(a, data=data[a.sha256]) if a.kind == "image" and not a.data else a
            for a in message.attachments
        )) if message.attachments else message
        for message in request.messages
    ]
    return replace(request, messages=messages)
