"""What an import file may hold, declared field by field: the Workbench export and ChatGPT's export.

Each field has one type with one rule and one message. A Workbench file is checked whole: an
unknown field is an error, as is a value of the wrong type, out of range, or (for the names of
things: providers, models, encodings, ids) outside a strict character set. ChatGPT's export carries
many fields the workbench does not read; those are ignored, and every field it reads is checked.
The tree (parents, loops, ids named elsewhere) is checked by the parsers afterwards.

`workbench_file` and `chatgpt_conversation` raise ImportProblem naming the place of the first problem the
way the parsers do: `turns[3] (id 7): "model" must be a model name: …`.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    model_validator,
)

from conversations.exchange import ImportProblem, describe_id
from conversations.exchange.fieldtypes import (
    NODE_ID,
    AttachmentKind,
    Base64Text,
    ChatGPTPart,
    ChatGPTRole,
    Content,
    Cost,
    Count,
    DatabaseId,
    EncodingName,
    ErrorText,
    FileName,
    FileSize,
    Flag,
    Identifier,
    MaxTokens,
    MediaType,
    Moment,
    NodeId,
    OptionalFlag,
    OptionalModelName,
    OptionalNodeId,
    OptionalString,
    OptionalTurnKey,
    Pixels,
    ReasoningBlock,
    ReasoningEffort,
    ReasoningText,
    ResponseId,
    Role,
    Seconds,
    Sha256,
    Status,
    SystemPrompt,
    Temperature,
    ThinkingBudget,
    Title,
    TokenCount,
    TopP,
    TurnKey,
    UnixTime,
    Username,
    _turn_key,
)
from conversations.fields import ModelName, ProviderName, describe, problem, shown
from conversations.review.exchange import WorkbenchReview

# --- the Workbench export -----------------------------------------------------------------------


class _Declared(BaseModel):
    """Every field declared: an unknown one is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def given(self) -> dict[str, Any]:
        """The fields the file gave, with their checked values (not the defaults of the others)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set}


class TurnSettings(_Declared):
    """The settings a reply was made with, as services store them (GenerationSettings.as_dict)."""

    system_prompt: SystemPrompt = ""
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    top_p: TopP = None
    reasoning_effort: ReasoningEffort = None
    thinking_budget: ThinkingBudget = None


class TurnContext(_Declared):
    """How a reply's request was fitted into the window (ContextPlan.as_json)."""

    omitted: list[TurnKey] = []
    input_tokens: Count = None
    window: Count = None
    history_budget: Count = None
    reply_budget: Count = None
    encoding: EncodingName = "o200k_base"
    estimate: Flag = False


class WorkbenchAttachment(_Declared):
    """One file a prompt carries, as Turn.attachments describes it (version 4). Its facts (kind,
    type, size, pixels, tokens) are taken afresh from the file itself on import."""

    sha256: Sha256
    name: FileName
    kind: AttachmentKind
    media_type: MediaType
    size: FileSize
    width: Pixels = None
    height: Pixels = None
    token_counts: dict[EncodingName, TokenCount] = {}


class WorkbenchStoredFile(_Declared):
    """One attached file's bytes (version 4), under the SHA-256 of those bytes in "files"."""

    media_type: MediaType
    kind: AttachmentKind
    size: FileSize
    data: Base64Text  # base64 of the bytes; decoded and checked against the key on import


class WorkbenchTurn(_Declared):
    id: TurnKey
    parent: OptionalTurnKey = None
    role: Role
    content: Content
    # Version 2: the reply's reasoning, kept apart from its content.
    reasoning: ReasoningText = ""
    reasoning_blocks: list[ReasoningBlock] = []
    reasoning_tokens: Count = None
    reasoning_seconds: Seconds = None
    refused: Flag = False
    status: Status = "complete"
    provider: ProviderName = ""
    model: ModelName = ""
    settings: TurnSettings = TurnSettings()
    token_counts: dict[EncodingName, TokenCount] = {}
    input_tokens: Count = None
    output_tokens: Count = None
    usage_estimated: Flag = False
    cost: Cost = None
    context: TurnContext = TurnContext()
    response_id: ResponseId = ""
    error: ErrorText = ""
    author: Username = None  # read, never used: the importer is the author
    created_at: Moment = None
    first_token_at: Moment = None
    finished_at: Moment = None
    # Version 4: the files a prompt carries, in order.
    attachments: list[WorkbenchAttachment] = []

    @model_validator(mode="after")
    def _only_replies_stream(self) -> WorkbenchTurn:
        if self.status != "complete" and self.role != "assistant":
            raise problem(
                f'a {self.role} turn cannot be "{self.status}"; only replies (role assistant) can.', sentence=True
            )
        if self.attachments and self.role != "user":
            raise problem(
                f"a {self.role} turn cannot carry attached files; only prompts (role user) can.", sentence=True
            )
        return self


class ForkSource(_Declared):
    """The turn a forked conversation was copied from, by its ids in the workbench that exported it."""

    conversation: DatabaseId
    turn: DatabaseId


class ConversationMeta(_Declared):
    title: Title = ""
    created_at: Moment = None
    updated_at: Moment = None
    current_turn: OptionalTurnKey = None
    main_turn: OptionalTurnKey = None
    forked_from: ForkSource | None = None  # version 2


class WorkbenchFile(_Declared):
    format: Literal["workbench.conversation"]
    # Version 2 adds the reasoning fields of a turn and the conversation's "forked_from"; a
    # version 1 file is read by the same schema (it simply has none of them).
    version: Literal[1, 2, 3, 4]
    exported_at: Moment = None
    conversation: ConversationMeta
    turns: list[WorkbenchTurn]
    # Version 3: the team's comments, verdicts and preferred branches (review/exchange.py).
    review: WorkbenchReview | None = None
    # Version 4: every attached file once, by the SHA-256 of its bytes (exchange/attached_files.py).
    files: dict[Sha256, WorkbenchStoredFile] = {}

    @model_validator(mode="after")
    def _files_since_version_4(self) -> WorkbenchFile:
        if self.version < 4 and (self.files or any(turn.attachments for turn in self.turns)):
            raise problem(
                f'a version {self.version} file cannot hold attached files ("files", "attachments"); they '
                'came with version 4: say "version": 4.', sentence=True
            )
        return self


def _workbench_place(data: dict, loc: tuple) -> tuple[str, tuple]:
    if len(loc) >= 2 and loc[0] == "turns" and isinstance(loc[1], int):
        place = f"turns[{loc[1]}]"
        raw = data["turns"][loc[1]]
        if loc[2:3] != ("id",) and isinstance(raw, dict) and _turn_key(raw.get("id")) is None:
            place += f" (id {describe_id(raw['id'])})"
        return place, loc[2:]
    if loc[:1] == ("conversation",) and len(loc) > 1:
        return "conversation", loc[1:]
    if loc[:1] == ("files",) and len(loc) > 2 and loc[2] != "[key]":
        return file_place(str(loc[1])), loc[2:]
    return "", loc


def file_place(sha256: str) -> str:
    """files["0a1b2c3d4e5f…"]: where a file is in a Workbench export, by the start of its key."""
    return f'files["{sha256[:12]}…"]' if len(sha256) > 12 else f'files["{sha256}"]'


def workbench_file(data: dict) -> WorkbenchFile:
    """The whole Workbench export, checked; ImportProblem naming the first problem's place."""
    try:
        return WorkbenchFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place, loc = _workbench_place(data, error["loc"])
        raise ImportProblem(describe(error, place, loc)) from None


# --- ChatGPT's export -----------------------------------------------------------------------------


class _Read(BaseModel):
    """The fields the workbench reads, checked; ChatGPT's many others are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ChatGPTAuthor(_Read):
    role: ChatGPTRole


class ChatGPTThought(_Read):
    """One step of a reasoning model's thoughts: a short summary (its heading) and its text."""

    summary: OptionalString = None
    content: OptionalString = None


class ChatGPTContent(_Read):
    content_type: Identifier = None
    parts: list[ChatGPTPart] | None = None
    text: OptionalString = None
    # content_type "thoughts": the model's reasoning before its reply.
    thoughts: list[ChatGPTThought] | None = None
    # content_type "reasoning_recap": "Thought for 12s". Other content types may use the key for
    # something else, so it is checked where it is read: only for a recap (chatgpt.py).
    content: Any = None


class ChatGPTFinishDetails(_Read):
    type: OptionalString = None  # "stop", "max_tokens", or "interrupted" when the person stopped it


class ChatGPTMetadata(_Read):
    model_slug: OptionalModelName = None
    is_visually_hidden_from_conversation: OptionalFlag = None
    finish_details: ChatGPTFinishDetails | None = None
    # How long the model reasoned, on a reasoning recap.
    finished_duration_sec: Seconds = None


class ChatGPTMessage(_Read):
    author: ChatGPTAuthor
    content: ChatGPTContent
    create_time: UnixTime = None
    status: Identifier = None
    metadata: ChatGPTMetadata | None = None


class ChatGPTNode(_Read):
    id: OptionalNodeId = None
    parent: OptionalNodeId = None
    message: ChatGPTMessage | None = None


class ChatGPTConversation(_Read):
    title: OptionalString = None
    create_time: UnixTime = None
    update_time: UnixTime = None
    mapping: dict[NodeId, ChatGPTNode]
    current_node: OptionalNodeId = None
    default_model_slug: OptionalModelName = None


def chatgpt_place(index: int, raw: Any) -> str:
    """conversations[1] ("Its title"), as the ChatGPT parser names a conversation."""
    place = f"conversations[{index}]"
    if isinstance(raw, dict) and isinstance(raw.get("title"), str):
        place = f'{place} ("{" ".join(raw["title"].split())[:60]}")'
    return place


def _chatgpt_place(place: str, loc: tuple) -> tuple[str, tuple]:
    if len(loc) >= 2 and loc[0] == "mapping" and loc[2:3] != ("[key]",):
        node = loc[1] if NODE_ID.fullmatch(str(loc[1])) else shown(loc[1], 60)
        return f"{place} node {node}", loc[2:]
    return place, loc


def chatgpt_conversation(raw: Any, index: int) -> ChatGPTConversation:
    """One conversation of a ChatGPT export, checked on its own (a broken one does not stop the
    others); ImportProblem naming the first problem's place."""
    try:
        return ChatGPTConversation.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        place, loc = _chatgpt_place(chatgpt_place(index, raw), error["loc"])
        raise ImportProblem(describe(error, place, loc)) from None
