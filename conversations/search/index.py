"""The full-text index, kept by the database itself: every write to a turn or a title reaches it
through triggers, so no write path (a send, an edit, a reply's final write, an import, a fork, a
delete, a cascade) can forget it.

What is indexed: the text of every turn whose text is final (a reply is indexed when it finishes;
its checkpoints while it streams cost the index nothing), and every conversation's title. Only the
first INDEXED_CHARS characters of a text: PostgreSQL refuses a tsvector over 1 MB, which an
imported text of a million characters could reach; typed messages are shorter anyway. Reasoning is
not indexed: it is the model's scratch work, often longer than the answer, and a match in it would
open a turn whose visible text does not contain the words.

Both engines split text alike: a word is a run of letters and digits, anything else separates
words ("example.com" is "example" then "com"), and case does not matter; accents do (PostgreSQL's
`simple` configuration keeps them, and SQLite is told to). Nothing is stemmed: prefixes do that
work (query.py).

- SQLite: two contentless FTS5 tables, `search_turn(body)` (rowid = the turn's id) and
  `search_title(title)` (rowid = the conversation's id), and `search_turn_meta` (what a search
  filters and orders by), fed by triggers that read only the row being written. Contentless: the
  text is not stored twice; a removal gives the index the old text, which the trigger has. No
  trigger or view may name another of Django's tables: SQLite
  checks every one when Django rebuilds a table for a migration (it renames the new copy into
  place), and one naming a table that is gone at that moment fails the migration.
- PostgreSQL: a `search_vector` tsvector column on the turns, set by a BEFORE trigger, and a
  generated one on the conversations, each with a GIN index; `search_document()` is the one
  definition of how text becomes a vector.

Django knows nothing of these tables and columns: the migration (0009) installs them, and
`ensure` runs after every `migrate`. A later migration that rebuilds the turn or conversation
table on SQLite drops that table's triggers with the old copy; `ensure` puts them back and
rebuilds that index.
"""
from __future__ import annotations

import logging

from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

INDEXED_CHARS = 100_000
TURNS = "conversations_turn"
CONVERSATIONS = "conversations_conversation"

# --- SQLite ---------------------------------------------------------------------------------------

# unicode61 folds case; `remove_diacritics 0` keeps accents, as PostgreSQL's `simple` does.
# The prefix index serves three-letter prefixes (query.MIN_PREFIX_CHARS) from one list each.
_FTS_OPTIONS = "content='', tokenize='unicode61 remove_diacritics 0', prefix='3'"
_BODY = f"substr({{row}}.content, 1, {INDEXED_CHARS})"
_FINAL = "{row}.status != 'streaming'"


def _body(row: str) -> str:
    return _BODY.format(row=row)


def _final(row: str) -> str:
    return _FINAL.format(row=row)


_META_COLUMNS = ("id", "conversation_id", "role", "provider", "model", "created_at")


def _meta(row: str) -> str:
    return ", ".join(f"{row}.{column}" for column in _META_COLUMNS)


# Each index's tables. `search_turn_meta` holds, beside every indexed turn, what a search filters
# and orders by: a row of a few bytes, where the turn's own row holds its text (pages of it, read
# for every candidate a search looked at, when it was joined instead).
SQLITE_TABLES = {
    "search_turn": [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS search_turn USING fts5(body, {_FTS_OPTIONS})",
        """CREATE TABLE IF NOT EXISTS search_turn_meta (
            turn_id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL, role TEXT NOT NULL,
            provider TEXT NOT NULL, model TEXT NOT NULL, created_at TEXT NOT NULL)""",
    ],
    "search_title": [f"CREATE VIRTUAL TABLE IF NOT EXISTS search_title USING fts5(title, {_FTS_OPTIONS})"],
}

_META_INSERT = "INSERT INTO search_turn_meta(turn_id, conversation_id, role, provider, model, created_at)"

# Each index's triggers, by name. A removal must give exactly what was indexed, so the conditions
# and the text expressions of a removal are those of the insertion that made the entry.
SQLITE_TRIGGERS = {
    "search_turn": {
        "search_turn_insert": f"""
            CREATE TRIGGER IF NOT EXISTS search_turn_insert AFTER INSERT ON {TURNS}
            WHEN {_final("new")} BEGIN
                INSERT INTO search_turn(rowid, body) VALUES (new.id, {_body("new")});
                {_META_INSERT} VALUES ({_meta("new")});
            END""",
        "search_turn_update": f"""
            CREATE TRIGGER IF NOT EXISTS search_turn_update AFTER UPDATE OF id, content, status ON {TURNS}
            WHEN {_final("old")} OR {_final("new")} BEGIN
                INSERT INTO search_turn(search_turn, rowid, body)
                    SELECT 'delete', old.id, {_body("old")} WHERE {_final("old")};
                INSERT INTO search_turn(rowid, body) SELECT new.id, {_body("new")} WHERE {_final("new")};
            END""",
        "search_turn_meta_update": f"""
            CREATE TRIGGER IF NOT EXISTS search_turn_meta_update
            AFTER UPDATE OF id, conversation_id, role, provider, model, created_at, status ON {TURNS}
            WHEN {_final("old")} OR {_final("new")} BEGIN
                DELETE FROM search_turn_meta WHERE turn_id = old.id;
                {_META_INSERT} SELECT {_meta("new")} WHERE {_final("new")};
            END""",
        "search_turn_delete": f"""
            CREATE TRIGGER IF NOT EXISTS search_turn_delete AFTER DELETE ON {TURNS}
            WHEN {_final("old")} BEGIN
                INSERT INTO search_turn(search_turn, rowid, body) VALUES ('delete', old.id, {_body("old")});
                DELETE FROM search_turn_meta WHERE turn_id = old.id;
            END""",
    },
    "search_title": {
        "search_title_insert": f"""
            CREATE TRIGGER IF NOT EXISTS search_title_insert AFTER INSERT ON {CONVERSATIONS} BEGIN
                INSERT INTO search_title(rowid, title) VALUES (new.id, new.title);
            END""",
        "search_title_update": f"""
            CREATE TRIGGER IF NOT EXISTS search_title_update AFTER UPDATE OF id, title ON {CONVERSATIONS} BEGIN
                INSERT INTO search_title(search_title, rowid, title) VALUES ('delete', old.id, old.title);
                INSERT INTO search_title(rowid, title) VALUES (new.id, new.title);
            END""",
        "search_title_delete": f"""
            CREATE TRIGGER IF NOT EXISTS search_title_delete AFTER DELETE ON {CONVERSATIONS} BEGIN
                INSERT INTO search_title(search_title, rowid, title) VALUES ('delete', old.id, old.title);
            END""",
    },
}

# What each index holds, read from its table: the same rows and expressions as the triggers.
SQLITE_FILL = {
    "search_turn": [
        f"INSERT INTO search_turn(rowid, body) SELECT id, {_body(TURNS)} FROM {TURNS} WHERE {_final(TURNS)}",
        f"{_META_INSERT} SELECT {_meta(TURNS)} FROM {TURNS} WHERE {_final(TURNS)}",
    ],
    "search_title": [f"INSERT INTO search_title(rowid, title) SELECT id, title FROM {CONVERSATIONS}"],
}


def _sqlite_names(cursor, kind: str) -> set[str]:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = %s", [kind])
    return {row[0] for row in cursor.fetchall()}


def _sqlite_rebuild(cursor, index: str) -> None:
    cursor.execute(f"INSERT INTO {index}({index}) VALUES ('delete-all')")
    if index == "search_turn":
        cursor.execute("DELETE FROM search_turn_meta")
    for fill in SQLITE_FILL[index]:
        cursor.execute(fill)


# --- PostgreSQL -----------------------------------------------------------------------------------

# [[:alnum:]] follows the database's LC_CTYPE: a UTF-8 locale (initdb's default) knows every
# script's letters; the C locale only ASCII's (see README, Search).
POSTGRES_INSTALL = [
    f"""CREATE OR REPLACE FUNCTION search_document(text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT to_tsvector('pg_catalog.simple'::regconfig,
                               regexp_replace(left($1, {INDEXED_CHARS}), '[^[:alnum:]]+', ' ', 'g'))
        $$""",
    f"ALTER TABLE {TURNS} ADD COLUMN IF NOT EXISTS search_vector tsvector",
    """CREATE OR REPLACE FUNCTION search_turn_vector() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status = 'streaming' THEN
                NEW.search_vector := NULL;
            ELSE
                NEW.search_vector := search_document(NEW.content);
            END IF;
            RETURN NEW;
        END
    $$""",
    f"DROP TRIGGER IF EXISTS search_turn_vector ON {TURNS}",
    f"""CREATE TRIGGER search_turn_vector BEFORE INSERT OR UPDATE OF content, status ON {TURNS}
        FOR EACH ROW EXECUTE FUNCTION search_turn_vector()""",
    f"UPDATE {TURNS} SET search_vector = search_document(content) WHERE status <> 'streaming'",
    f"CREATE INDEX IF NOT EXISTS turn_search ON {TURNS} USING gin (search_vector)",
    f"""ALTER TABLE {CONVERSATIONS} ADD COLUMN IF NOT EXISTS search_vector tsvector
        GENERATED ALWAYS AS (search_document(title)) STORED""",
    f"CREATE INDEX IF NOT EXISTS conversation_search ON {CONVERSATIONS} USING gin (search_vector)",
]

POSTGRES_UNINSTALL = [
    "DROP INDEX IF EXISTS conversation_search",
    f"ALTER TABLE {CONVERSATIONS} DROP COLUMN IF EXISTS search_vector",
    "DROP INDEX IF EXISTS turn_search",
    f"DROP TRIGGER IF EXISTS search_turn_vector ON {TURNS}",
    "DROP FUNCTION IF EXISTS search_turn_vector()",
    f"ALTER TABLE {TURNS} DROP COLUMN IF EXISTS search_vector",
    "DROP FUNCTION IF EXISTS search_document(text)",
]


# --- both -----------------------------------------------------------------------------------------


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the index and fill it from what the database holds."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for index, creates in SQLITE_TABLES.items():
                for create in creates:
                    cursor.execute(create)
                for trigger in SQLITE_TRIGGERS[index].values():
                    cursor.execute(trigger)
                _sqlite_rebuild(cursor, index)
        elif connection.vendor == "postgresql":
            for statement in POSTGRES_INSTALL:
                cursor.execute(statement)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for index, triggers in SQLITE_TRIGGERS.items():
                for name in triggers:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                cursor.execute(f"DROP TABLE IF EXISTS {index}")
            cursor.execute("DROP TABLE IF EXISTS search_turn_meta")
        elif connection.vendor == "postgresql":
            for statement in POSTGRES_UNINSTALL:
                cursor.execute(statement)


def ensure(connection: BaseDatabaseWrapper) -> list[str]:
    """Put back the triggers a table rebuild dropped (SQLite), rebuilding each index that lost
    any: its table may have been written to without them. Does nothing where the index is not
    installed (before its migration, or after it was reversed). The indexes rebuilt, by name."""
    if connection.vendor != "sqlite":
        return []
    rebuilt = []
    with connection.cursor() as cursor:
        tables = _sqlite_names(cursor, "table")
        triggers = _sqlite_names(cursor, "trigger")
        for index, wanted in SQLITE_TRIGGERS.items():
            if index not in tables or wanted.keys() <= triggers:
                continue
            for name, create in wanted.items():
                if name not in triggers:
                    cursor.execute(create)
            _sqlite_rebuild(cursor, index)
            rebuilt.append(index)
    for index in rebuilt:
        logger.warning("The search index %s had lost its triggers (a table was rebuilt): rebuilt it.", index)
    return rebuilt


def after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate receiver: `ensure` on the database just migrated."""
    from django.db import connections

    ensure(connections[using])
