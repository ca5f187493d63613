"""Attached files in a Workbench export (version 4): out with the conversation, back in through the
checks an upload gets.

An export holds each file once, in "files", keyed by the SHA-256 of its bytes: {"media_type",
"kind", "size", "data": base64}; each prompt's "attachments" name files by that key. On import
every file is decoded and its hash checked against its key (`given_files`, no database), then
inspected as an upload is (`files_prepare`: attachments/files.py re-encodes an image, so a crafted
file cannot smuggle anything in: only pixels survive), and the prompts' descriptors are rebuilt
from what is stored: a file whose bytes changed in inspection gets its new hash and size. A file
whose bytes are already stored here is taken as it is: its hash is of bytes that passed the same
inspection when they were stored (re-encoding a JPEG again would change it for nothing).
`files_store` then writes, inside the import's transaction, after the importer's quota is checked;
on any failure the files it wrote are removed again, unless another write committed them.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from conversations.attachments import files as inspection
from conversations.attachments import selectors, storage
from conversations.attachments.files import FileRefused, human_size
from conversations.attachments.models import Blob
from conversations.attachments.sending import descriptor
from conversations.exchange import ImportProblem, TurnPlan
from conversations.exchange.schema import WorkbenchFile, file_place
from conversations.tokens import count_all

# --- export ----------------------------------------------------------------------------------------


def files_export(attachment_lists: Iterable[list[dict]]) -> dict[str, dict]:
    """Every file the descriptors name, once each, in the order first named: one query, then each
    file's bytes read from storage."""
    order = list(dict.fromkeys(
        descriptor["sha256"] for descriptors in attachment_lists for descriptor in descriptors or ()
    ))
    blobs = Blob.objects.in_bulk(order)
    exported = {}
    for sha256 in order:
        blob = blobs.get(sha256)
        if blob is None:  # kept by the turns that name it (Turn.blobs): never the case
            continue
        data = storage.read(storage.blob_name(sha256))
        exported[sha256] = {
            "media_type": blob.media_type,
            "kind": blob.kind,
            "size": len(data),
            "data": base64.b64encode(data).decode("ascii"),
        }
    return exported


# --- import, without the database ---------------------------------------------------------------------


@dataclass(frozen=True)
class GivenFile:
    """A file of the export, decoded, its bytes those its key names."""

    sha256: str
    data: bytes
    # The name of the first prompt's descriptor naming it: what inspection calls it.
    name: str
    place: str


def _too_large(place: str, name: str, size: int) -> ImportProblem:
    limit = settings.ATTACHMENT_MAX_FILE_BYTES
    return ImportProblem(
        f"{place} ({name}) is {human_size(size)}: an attached file may be at most {human_size(limit)} "
        "(WORKBENCH_ATTACHMENT_MAX_FILE_BYTES)."
    )


def given_files(document: WorkbenchFile, turn_place) -> dict[str, GivenFile]:
    """The export's files, each decoded and checked: named by some prompt, every prompt's files
    present, base64 that decodes, bytes whose SHA-256 is their key and whose size is said, within
    the size a file may have. `turn_place(index)` names a turn as the parser does."""
    first_name: dict[str, str] = {}
    for index, turn in enumerate(document.turns):
        for position, attachment in enumerate(turn.attachments):
            if attachment.sha256 not in document.files:
                raise ImportProblem(
                    f'{turn_place(index)}: "attachments[{position}]" ({attachment.name}) names the file '
                    f'{attachment.sha256[:12]}…, which is not in the export\'s "files": the file cannot be '
                    "imported without it."
                )
            first_name.setdefault(attachment.sha256, inspection.clean_name(attachment.name))
    given = {}
    for sha256, entry in document.files.items():
        place = file_place(sha256)
        if sha256 not in first_name:
            raise ImportProblem(f"{place}: no prompt of the export carries this file; remove it from \"files\".")
        name = first_name[sha256]
        # Refused before decoding: base64 takes 4 characters for 3 bytes, "=" padding the last.
        decoded_size = len(entry.data) * 3 // 4 - entry.data[-2:].count("=")
        if decoded_size > settings.ATTACHMENT_MAX_FILE_BYTES:
            raise _too_large(place, name, decoded_size)
        try:
            data = base64.b64decode(entry.data, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ImportProblem(f'{place} ({name}): "data" is not valid base64 ({error}).') from None
        if len(data) > settings.ATTACHMENT_MAX_FILE_BYTES:
            raise _too_large(place, name, len(data))
        actual = storage.digest(data)
        if actual != sha256:
            raise ImportProblem(
                f"{place} ({name}): its data does not match its key: the SHA-256 of its bytes is {actual[:12]}…. "
                "The file was changed after it was exported."
            )
        if len(data) != entry.size:
            raise ImportProblem(f'{place} ({name}): "size" is {entry.size:,}, but its data is {len(data):,} bytes.')
        given[sha256] = GivenFile(sha256=sha256, data=data, name=name, place=place)
    return given


# --- import: inspect, then store ------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedFile:
    """What is stored of a given file: the facts its descriptors take, and, when new here, the bytes
    and thumbnail to write."""

    sha256: str
    kind: str
    media_type: str
    size: int
    width: int | None
    height: int | None
    token_counts: dict
    text: str = ""
    data: bytes | None = None  # None: already stored here
    thumbnail: bytes | None = None


def _accepted_kind(blob: Blob) -> str:
    return "pdf" if blob.media_type == inspection.PDF_TYPE else blob.kind


def _from_blob(blob: Blob) -> PreparedFile:
    return PreparedFile(
        sha256=blob.sha256, kind=blob.kind, media_type=blob.media_type, size=blob.size, width=blob.width,
        height=blob.height, token_counts=dict(blob.token_counts or {}),
    )


def files_prepare(given: dict[str, GivenFile]) -> dict[str, PreparedFile]:
    """Each given file inspected as an upload is (its stored bytes may differ: see the module's
    note), by its key in the export. Raises ImportProblem naming the file for one refused."""
    stored = Blob.objects.in_bulk(list(given))
    prepared: dict[str, PreparedFile] = {}
    inspected_files = {}
    for sha256, file in given.items():
        blob = stored.get(sha256)
        if blob is not None:
            if _accepted_kind(blob) not in settings.ATTACHMENT_KINDS:
                raise ImportProblem(
                    f"{file.place} ({file.name}) is {inspection.KIND_ONE[_accepted_kind(blob)]}; this workbench "
                    "no longer accepts those as attachments (WORKBENCH_ATTACHMENT_KINDS)."
                )
            prepared[sha256] = _from_blob(blob)
            continue
        try:
            inspected = inspection.inspect(file.name, file.data, kinds=settings.ATTACHMENT_KINDS)
        except FileRefused as refused:
            raise ImportProblem(f"{file.place}: {refused.message}") from None
        if len(inspected.data) > settings.ATTACHMENT_MAX_FILE_BYTES:
            raise _too_large(file.place, file.name, len(inspected.data))
        inspected_files[sha256] = inspected
    # Re-encoded bytes may be a file stored here already: that one is kept, not written again.
    new_hashes = {sha256: storage.digest(inspected.data) for sha256, inspected in inspected_files.items()}
    known = Blob.objects.in_bulk(list(set(new_hashes.values())))
    for sha256, inspected in inspected_files.items():
        new = new_hashes[sha256]
        if new in known:
            prepared[sha256] = _from_blob(known[new])
            continue
        prepared[sha256] = PreparedFile(
            sha256=new, kind=inspected.kind, media_type=inspected.media_type, size=len(inspected.data),
            width=inspected.width, height=inspected.height,
            token_counts=count_all(inspected.text) if inspected.kind == "text" else {},
            text=inspected.text, data=inspected.data, thumbnail=inspected.thumbnail,
        )
    return prepared


def rewrite_descriptors(turns: list[TurnPlan], prepared: dict[str, PreparedFile]) -> None:
    """Each planned prompt's descriptors rebuilt from what is stored: its names kept, its facts
    (hash, kind, type, size, pixels, tokens) those of the inspected file."""
    for turn in turns:
        attachments = turn.fields.get("attachments")
        if attachments:
            turn.fields["attachments"] = [
                descriptor(prepared[given["sha256"]], inspection.clean_name(given["name"])) for given in attachments
            ]


def _check_quota(owner, prepared: Iterable[PreparedFile]) -> None:
    quota = settings.ATTACHMENT_QUOTA_BYTES
    if not quota:
        return
    distinct = {file.sha256: file.size for file in prepared}
    adding = sum(size for sha256, size in distinct.items() if not selectors.counted_already(owner, sha256))
    if not adding:
        return
    used = selectors.storage_used(owner)
    if used + adding > quota:
        raise ImportProblem(
            f"Its attached files would add {human_size(adding)} to your attached files, and you have used "
            f"{human_size(used)} of your {human_size(quota)}: delete conversations you no longer need, or ask "
            "the administrator to raise the quota (WORKBENCH_ATTACHMENT_QUOTA_BYTES)."
        )


def files_store(owner, prepared: dict[str, PreparedFile], written: list[tuple[str, str]]) -> None:
    """Inside the import's transaction: check the importer's quota, then make each new file's row
    and write its bytes (and an image's thumbnail). Appends (sha256, storage name) of each file
    written to `written`, for `remove_unowned` should the transaction fail."""
    if not prepared:
        return
    # One person's writes of files one at a time, as uploads take them (uploads.py), so two at once
    # cannot both fit in the room left for one.
    list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
    _check_quota(owner, prepared.values())
    for file in {file.sha256: file for file in prepared.values() if file.data is not None}.values():
        assert file.data is not None
        # The row before the file, as an upload makes them (see uploads.py).
        Blob.objects.get_or_create(sha256=file.sha256, defaults={
            "size": file.size, "kind": file.kind, "media_type": file.media_type, "width": file.width,
            "height": file.height, "text": file.text, "token_counts": file.token_counts,
        })
        names = [(storage.blob_name(file.sha256), file.data)]
        if file.thumbnail is not None:
            names.append((storage.thumbnail_name(file.sha256), file.thumbnail))
        for name, content in names:
            if storage.write(name, content):
                written.append((file.sha256, name))


def remove_unowned(written: list[tuple[str, str]]) -> None:
    """Files an import wrote before it failed, removed unless a committed row names them (someone
    else's upload of the same file may have committed meanwhile, and uses them)."""
    if not written:
        return
    kept = set(Blob.objects.filter(pk__in={sha256 for sha256, _ in written}).values_list("sha256", flat=True))
    for sha256, name in written:
        if sha256 not in kept:
            storage.attachment_storage().delete(name)
