"""The files a send or an edit attaches, as its frame names them (streaming/protocol.py):

  "attachments": [{"upload": "<uuid>"}, {"turn": <turn id>, "index": <n>}, ...]

an upload of the sender's not yet sent, or the n-th (0-based) attachment of a turn of the same
conversation (how an edit keeps the files of the prompt it replaces). Here only their shape is
checked; whose they are, and the limits on their bytes, when they are sent (sending.py).
"""
from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from django.conf import settings as django_settings
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, PlainValidator, Tag

from conversations.refusals import refusal, refused

MAX_ID = 2**63 - 1  # the database's largest id
SHAPE = 'Each of "attachments" must be {"upload": "<id>"} or {"turn": <turn id>, "index": <n>}.'


def _uuid(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise ValueError("not a UUID") from None  # refused below with the field's one message


class UploadRef(BaseModel):
    """A file the sender uploaded and has not sent yet."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    upload: Annotated[
        str,
        AfterValidator(_uuid),
        refused('An attachment\'s "upload" must be the id of a file you uploaded (a UUID string).'),
    ]


class TurnRef(BaseModel):
    """The `index`-th attachment of turn `turn`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    turn: Annotated[
        int, Field(ge=1, le=MAX_ID), refused('An attachment\'s "turn" must be a turn id (a positive integer).')
    ]
    index: Annotated[
        int, Field(ge=0, le=MAX_ID),
        refused('An attachment\'s "index" must be the place of a file among its turn\'s, a whole number from 0.'),
    ]


AttachmentRef = UploadRef | TurnRef


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        if "upload" in value and "turn" not in value and "index" not in value:
            return "upload"
        if "turn" in value and "upload" not in value:
            return "turn"
    return "shape"


def _shape(value: Any) -> Any:
    raise refusal(SHAPE, code="wrong_type")


def _within_limits(refs: list[AttachmentRef]) -> tuple[AttachmentRef, ...]:
    limit = django_settings.ATTACHMENT_MAX_FILES
    if len(refs) > limit:
        raise refusal(
            f"A message carries at most {limit} file{'' if limit == 1 else 's'}; this one has {len(refs)}.",
            code="too_many",
        )
    if len(set(refs)) < len(refs):
        raise refusal("The same file is attached twice: attach each file once.", code="invalid")
    return tuple(refs)


def _unknown(keys: list[str]) -> Any:
    return refusal(SHAPE, code="wrong_type")


Ref = Annotated[
    Annotated[UploadRef, refused(SHAPE, unknown=_unknown), Tag("upload")]
    | Annotated[TurnRef, refused(SHAPE, unknown=_unknown), Tag("turn")]
    | Annotated[Any, PlainValidator(_shape), Tag("shape")],
    Discriminator(_kind),
]
AttachmentRefs = Annotated[
    list[Ref],
    refused('"attachments" must be a list of files, each {"upload": "<id>"} or {"turn": <turn id>, "index": <n>}.'),
    AfterValidator(_within_limits),
]
TextOnly = Annotated[bool, refused('"text_only" must be true or false.')]
