"""The search: turns and titles that match a query, among the conversations a person may read.

The permission check is inside the query: every candidate must belong to a conversation of
`selectors.conversations_for(user=...)`, the one rule of who reads what (membership of its
workspace), compiled into the same SQL statement as the match. Nothing is fetched and filtered
after.

Ranking: relevance (FTS5's bm25, PostgreSQL's ts_rank normalised by length), then recency. A word
found in tens of thousands of turns would otherwise have every one of them scored and sorted on
each search, so the candidates are the newest POOL matches the person may read, and those are
ranked: a search that matches more turns than that ranks the newest of them (the page says so).
SQLite reads its matches newest first from the index and stops at POOL; PostgreSQL walks the turns
newest first testing each, or sorts the matches its index names, as its planner judges cheaper
(BENCHMARKS.md, Search).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.safestring import SafeString

from conversations.models import Conversation, Turn
from conversations.search.index import INDEXED_CHARS
from conversations.search.query import Query
from conversations.search.snippets import highlight
from conversations.selectors import conversations_for

POOL = 500
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
    # How many turns matched, up to POOL; at POOL more may have: the results are the best of the newest.
    matched: int = 0

    @property
    def pool_full(self) -> bool:
        return self.matched >= POOL


def _readable(user, filters: Filters) -> tuple[str, tuple]:
    """The ids of the conversations `user` may read (in the filtered workspace), as SQL."""
    rows: QuerySet[Conversation] = conversations_for(user=user, workspace_id=filters.workspace_id)
    sql, params = rows.order_by().values("id").query.sql_with_params()
    return sql, tuple(params)


def _turn_filters(filters: Filters, row: str) -> tuple[str, list]:
    """Conditions on the candidate turn `row` (its role, provider, model and created_at)."""
    where: list[str] = []
    params: list = []
    if filters.role:
        where.append(f"{row}.role = %s")
        params.append(filters.role)
    if filters.model:
        where.append(f"{row}.provider = %s AND {row}.model = %s")
        params += [filters.provider, filters.model]
    if filters.since is not None:
        where.append(f"{row}.created_at >= %s")
        params.append(connection.ops.adapt_datetimefield_value(filters.since))
    if filters.until is not None:
        where.append(f"{row}.created_at < %s")
        params.append(connection.ops.adapt_datetimefield_value(filters.until))
    return "".join(f" AND {clause}" for clause in where), params


# The page's rows of the pool, with what a result shows: one query, its conversation, workspace,
# and for a prompt the model of the newest reply to it (the one its branch continues with).
_HITS = """
    SELECT t.id, t.conversation_id, t.role, t.provider, t.model, t.created_at,
           {text} AS content,
           c.title AS conversation_title, w.name AS workspace_name,
           (SELECT r.provider || ':' || r.model FROM conversations_turn r
            WHERE r.parent_id = t.id AND r.role = 'assistant' ORDER BY r.id DESC LIMIT 1) AS reply_model,
           (SELECT count(*) FROM pool) AS pool_size
    FROM page JOIN conversations_turn t ON t.id = page.id
    JOIN conversations_conversation c ON c.id = t.conversation_id
    JOIN conversations_workspace w ON w.id = c.workspace_id
    ORDER BY page.position"""


def _turn_rows(user, query: Query, filters: Filters, *, offset: int, limit: int) -> list[Turn]:
    """The matching turns of one page, best first, each with the columns of _HITS beside its own
    (`pool_size`: how many were ranked)."""
    readable, readable_params = _readable(user, filters)
    if connection.vendor == "postgresql":
        extra, extra_params = _turn_filters(filters, "t")
        tsquery = "to_tsquery('pg_catalog.simple', %s)"
        sql = f"""
            WITH pool AS MATERIALIZED (
                SELECT t.id, t.created_at, t.search_vector AS vector FROM conversations_turn t
                WHERE t.search_vector @@ {tsquery} AND t.conversation_id IN ({readable}){extra}
                ORDER BY t.id DESC LIMIT %s
            ), page AS (
                SELECT id, row_number() OVER (
                    ORDER BY ts_rank(vector, {tsquery}, 1) DESC, created_at DESC, id DESC) AS position
                FROM pool ORDER BY position LIMIT %s OFFSET %s
            )""" + _HITS.format(text=f"left(t.content, {INDEXED_CHARS})")
        params = [query.tsquery(), *readable_params, *extra_params, POOL, query.tsquery(), limit, offset]
    else:
        extra, extra_params = _turn_filters(filters, "m")
        sql = f"""
            WITH pool AS MATERIALIZED (
                SELECT search_turn.rowid AS id, bm25(search_turn) AS score, m.created_at AS created_at
                FROM search_turn JOIN search_turn_meta m ON m.turn_id = search_turn.rowid
                WHERE search_turn MATCH %s AND m.conversation_id IN ({readable}){extra}
                ORDER BY search_turn.rowid DESC LIMIT %s
            ), page AS (
                SELECT id, row_number() OVER (ORDER BY score, created_at DESC, id DESC) AS position
                FROM pool ORDER BY position LIMIT %s OFFSET %s
            )""" + _HITS.format(text=f"substr(t.content, 1, {INDEXED_CHARS})")
        params = [query.fts5(), *readable_params, *extra_params, POOL, limit, offset]
    return list(Turn.objects.raw(sql, params))


def _title_rows(user, query: Query, filters: Filters) -> list[Conversation]:
    readable, readable_params = _readable(user, filters)
    if connection.vendor == "postgresql":
        tsquery = "to_tsquery('pg_catalog.simple', %s)"
        sql = f"""
            SELECT c.id, c.title, c.updated_at, w.name AS workspace_name
            FROM conversations_conversation c JOIN conversations_workspace w ON w.id = c.workspace_id
            WHERE c.search_vector @@ {tsquery} AND c.id IN ({readable})
            ORDER BY ts_rank(c.search_vector, {tsquery}, 1) DESC, c.updated_at DESC, c.id DESC
            LIMIT %s"""
        params = [query.tsquery(), *readable_params, query.tsquery(), TITLE_HITS]
    else:
        sql = f"""
            SELECT c.id, c.title, c.updated_at, w.name AS workspace_name
            FROM search_title JOIN conversations_conversation c ON c.id = search_title.rowid
            JOIN conversations_workspace w ON w.id = c.workspace_id
            WHERE search_title MATCH %s AND c.id IN ({readable})
            ORDER BY bm25(search_title), c.updated_at DESC, c.id DESC
            LIMIT %s"""
        params = [query.fts5(), *readable_params, TITLE_HITS]
    return list(Conversation.objects.raw(sql, params))


def _turn_hit(turn, query: Query) -> TurnHit:
    own = f"{turn.provider}:{turn.model}" if turn.provider else turn.model
    return TurnHit(
        turn_id=turn.id,
        conversation_id=turn.conversation_id,
        conversation_title=turn.conversation_title or f"Conversation {turn.conversation_id}",
        workspace=turn.workspace_name,
        role=turn.role,
        model=own if turn.role == Turn.Role.ASSISTANT else (turn.reply_model or "").strip(":"),
        created_at=turn.created_at,
        snippet=highlight(turn.content, query),
    )


def _title_hit(conversation, query: Query) -> TitleHit:
    return TitleHit(
        conversation_id=conversation.id,
        title=highlight(conversation.title, query, whole=True),
        workspace=conversation.workspace_name,
        updated_at=conversation.updated_at,
    )


@contextmanager
def _serial():
    """PostgreSQL without parallel workers for these queries: each reads a bounded pool, and
    starting workers cost more than they saved (on the benchmark's database, a member's search for
    a very common word took 65 ms gathered from two workers, 26 ms in one process)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def search(*, user, query: Query, filters: Filters = Filters(), page: int = 1) -> Results:
    """Page `page` (from 1, at most MAX_PAGE) of what matches `query` for `user`: turns, best
    first, and on the first page the conversations whose titles match (unless a filter concerns
    turns alone)."""
    offset = (page - 1) * PAGE_SIZE
    with _serial():
        rows = _turn_rows(user, query, filters, offset=offset, limit=PAGE_SIZE + 1)
        titles = _title_rows(user, query, filters) if page == 1 and not filters.about_turns else []
    return Results(
        query=query,
        page=page,
        turns=[_turn_hit(turn, query) for turn in rows[:PAGE_SIZE]],
        titles=[_title_hit(conversation, query) for conversation in titles],
        has_next=len(rows) > PAGE_SIZE and page < MAX_PAGE,
        matched=getattr(rows[0], "pool_size", 0) if rows else 0,
    )
