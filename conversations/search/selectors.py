"""The search: turns and titles that match a query, among the conversations a person may read.

The permission check is inside the query: every candidate must belong to a conversation of
`selectors.conversations_for(user=...)`, the one rule of who reads what (membership of its
workspace), compiled into the same SQL statement as the match. Nothing is fetched and filtered
after.

Ranking: relevance (FTS5's bm25, PostgreSQL's ts_rank normalised by length), then recency. A word
found in tens of thousands of turns would otherwise have every one of them scored and sorted on
each search, so the candidates are the newest POOL matches the person may read, and those are
ranked: a search that matches more turns than that ranks the newest of them (the page says so).
Both engines read their matches newest first from the index and stop at POOL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils.safestring import SafeString

from conversations.models import Conversation, Turn
from conversations.search.index import INDEXED_CHARS
from conversations.search.query import Query
from conversations.search.snippets import highlight
from conversations.selectors import conversations_for

POOL = 1000
PAGE_SIZE = 20
MAX_PAGE = POOL // PAGE_SIZE
TITLE_HITS = 5


@dataclass(frozen=True)
class Filters:
    workspace_id: int | None = None
    role: str = ""  # a Turn.Role: "user" (prompts) or "assistant" (replies); "" for both
    provider: str = ""  # with `model`: that model's replies
    model: str = ""
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before

    @property
    def about_turns(self) -> bool:
        """Whether a filter concerns turns alone (a title has no role, model or date)."""
        return bool(self.role or self.model or self.since or self.until)


@dataclass
class TurnHit:
    turn_id: int
    conversation_id: int
    conversation_title: str
    workspace: str
    role: str
    model: str  # "provider:model" of the reply, or of the reply the prompt got; "" for none
    created_at: datetime
    snippet: SafeString


@dataclass
class TitleHit:
    conversation_id: int
    title: SafeString
    workspace: str
    updated_at: datetime


@dataclass
class Results:
    query: Query
    page: int
    turns: list[TurnHit] = field(default_factory=list)
    titles: list[TitleHit] = field(default_factory=list)
    has_next: bool = False
    # More turns matched than were ranked (POOL): the results are the best of the newest.
    pool_full: bool = False


def _readable(user, filters: Filters) -> tuple[str, tuple]:
    """The ids of the conversations `user` may read (in the filtered workspace), as SQL."""
    rows: QuerySet[Conversation] = conversations_for(user=user, workspace_id=filters.workspace_id)
    sql, params = rows.order_by().values("id").query.sql_with_params()
    return sql, tuple(params)


def _turn_filters(filters: Filters) -> tuple[str, list]:
    where: list[str] = []
    params: list = []
    if filters.role:
        where.append("t.role = %s")
        params.append(filters.role)
    if filters.model:
        where.append("t.provider = %s AND t.model = %s")
        params += [filters.provider, filters.model]
    if filters.since is not None:
        where.append("t.created_at >= %s")
        params.append(connection.ops.adapt_datetimefield_value(filters.since))
    if filters.until is not None:
        where.append("t.created_at < %s")
        params.append(connection.ops.adapt_datetimefield_value(filters.until))
    return "".join(f" AND {clause}" for clause in where), params


def _turn_ids(user, query: Query, filters: Filters, *, offset: int, limit: int) -> tuple[list[int], bool]:
    """Ids of matching turns, best first, from `offset`; and whether the pool was full."""
    readable, readable_params = _readable(user, filters)
    extra, extra_params = _turn_filters(filters)
    if connection.vendor == "postgresql":
        sql = f"""
            WITH pool AS MATERIALIZED (
                SELECT t.id, t.created_at, t.search_vector AS vector FROM conversations_turn t
                WHERE t.search_vector @@ to_tsquery('pg_catalog.simple', %s)
                  AND t.conversation_id IN ({readable}){extra}
                ORDER BY t.id DESC LIMIT %s
            )
            SELECT id, (SELECT count(*) FROM pool) FROM pool
            ORDER BY ts_rank(vector, to_tsquery('pg_catalog.simple', %s), 1) DESC, created_at DESC, id DESC
            LIMIT %s OFFSET %s"""
        params = [query.tsquery(), *readable_params, *extra_params, POOL, query.tsquery(), limit, offset]
    else:
        sql = f"""
            WITH pool AS MATERIALIZED (
                SELECT search_turn.rowid AS id, bm25(search_turn) AS score, t.created_at AS created_at
                FROM search_turn JOIN conversations_turn t ON t.id = search_turn.rowid
                WHERE search_turn MATCH %s AND t.conversation_id IN ({readable}){extra}
                ORDER BY search_turn.rowid DESC LIMIT %s
            )
            SELECT id, (SELECT count(*) FROM pool) FROM pool
            ORDER BY score, created_at DESC, id DESC LIMIT %s OFFSET %s"""
        params = [query.fts5(), *readable_params, *extra_params, POOL, limit, offset]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [row[0] for row in rows], bool(rows) and rows[0][1] >= POOL


def _title_ids(user, query: Query, filters: Filters) -> list[int]:
    readable, readable_params = _readable(user, filters)
    if connection.vendor == "postgresql":
        sql = f"""
            SELECT c.id FROM conversations_conversation c
            WHERE c.search_vector @@ to_tsquery('pg_catalog.simple', %s) AND c.id IN ({readable})
            ORDER BY ts_rank(c.search_vector, to_tsquery('pg_catalog.simple', %s), 1) DESC,
                     c.updated_at DESC, c.id DESC
            LIMIT %s"""
        params = [query.tsquery(), *readable_params, query.tsquery(), TITLE_HITS]
    else:
        sql = f"""
            SELECT c.id FROM search_title JOIN conversations_conversation c ON c.id = search_title.rowid
            WHERE search_title MATCH %s AND c.id IN ({readable})
            ORDER BY bm25(search_title), c.updated_at DESC, c.id DESC
            LIMIT %s"""
        params = [query.fts5(), *readable_params, TITLE_HITS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _models_of_prompts(prompt_ids: list[int]) -> dict[int, str]:
    """For each prompt, the model of the newest reply to it: the one its branch continues with."""
    models: dict[int, str] = {}
    rows = (
        Turn.objects.filter(parent_id__in=prompt_ids, role=Turn.Role.ASSISTANT)
        .order_by("parent_id", "-id")
        .values_list("parent_id", "provider", "model")
    )
    for parent_id, provider, model in rows:
        if parent_id is not None:
            models.setdefault(parent_id, f"{provider}:{model}" if provider else model)
    return models


def _turn_hits(ids: list[int], query: Query) -> list[TurnHit]:
    turns = Turn.objects.select_related("conversation__workspace").only(
        "id", "role", "provider", "model", "content", "created_at",
        "conversation__id", "conversation__title", "conversation__workspace__name",
    ).in_bulk(ids)
    prompts = _models_of_prompts([i for i in ids if turns[i].role != Turn.Role.ASSISTANT])
    hits = []
    for turn_id in ids:
        turn = turns[turn_id]
        model = f"{turn.provider}:{turn.model}" if turn.provider else turn.model
        hits.append(TurnHit(
            turn_id=turn.id,
            conversation_id=turn.conversation.id,
            conversation_title=str(turn.conversation),
            workspace=turn.conversation.workspace.name,
            role=turn.role,
            model=model if turn.role == Turn.Role.ASSISTANT else prompts.get(turn.id, ""),
            created_at=turn.created_at,
            snippet=highlight(turn.content[:INDEXED_CHARS], query),
        ))
    return hits


def _title_hits(ids: list[int], query: Query) -> list[TitleHit]:
    found = Conversation.objects.select_related("workspace").only(
        "id", "title", "updated_at", "workspace__name"
    ).in_bulk(ids)
    return [
        TitleHit(
            conversation_id=conversation.id,
            title=highlight(conversation.title, query, whole=True),
            workspace=conversation.workspace.name,
            updated_at=conversation.updated_at,
        )
        for conversation in (found[i] for i in ids)
    ]


def search(*, user, query: Query, filters: Filters = Filters(), page: int = 1) -> Results:
    """Page `page` (from 1, at most MAX_PAGE) of what matches `query` for `user`: turns, best
    first, and on the first page the conversations whose titles match (unless a filter concerns
    turns alone)."""
    offset = (page - 1) * PAGE_SIZE
    ids, pool_full = _turn_ids(user, query, filters, offset=offset, limit=PAGE_SIZE + 1)
    results = Results(
        query=query,
        page=page,
        turns=_turn_hits(ids[:PAGE_SIZE], query),
        has_next=len(ids) > PAGE_SIZE and page < MAX_PAGE,
        pool_full=pool_full,
    )
    if page == 1 and not filters.about_turns:
        results.titles = _title_hits(_title_ids(user, query, filters), query)
    return results
