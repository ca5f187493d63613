"""The tree's reads and its one write, as a QuerySet API: `Turn.objects.path(...)`,
`.paths(...)`, `.branch_through(...)`, `.subtree_ids(...)` and `.append(...)`.

A path is one recursive query over the chains it crosses (see lineage.py): one step per fork,
each chain read with a range scan of the unique (chain, depth) index. The same SQL runs on SQLite
and PostgreSQL.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection, models

from conversations.lineage import placed_under

if TYPE_CHECKING:
    from conversations.models import Turn

# Deeper than any real branch; stops the recursion should the tree ever hold a cycle.
MAX_DEPTH = 100_000
def _chains_cte(table: str, seeds: str) -> str:
    """`chains(tip, tip_depth, head, upto, level)`: for each seed turn (`tip`), the chains its path
    crosses (lineage.py): each chain's first turn (`head`) and the depth down to which the path
    runs in it. One row per fork on the path, not one per turn. Its parameters: those of
    `seeds`, then the conversation's id."""
    return f"""
        chains(tip, tip_depth, head, upto, level) AS (
            SELECT id, depth, COALESCE(chain, id), depth, 0
            FROM {table} WHERE {seeds} AND conversation_id = %s
            UNION ALL
            SELECT c.tip, c.tip_depth, COALESCE(p.chain, p.id), p.depth, c.level + 1
            FROM chains c JOIN {table} h ON h.id = c.head JOIN {table} p ON p.id = h.parent_id
            WHERE c.level < {MAX_DEPTH}
        )"""


def _in_chains(table: str, columns: str) -> str:
    """`columns` of the turns of every chain in `chains`, down to where the path leaves it: its
    head by primary key, then its other turns in one range scan of (chain, depth) each."""
    return f"""
            SELECT {columns} FROM chains c JOIN {table} t ON t.id = c.head
            UNION ALL
            SELECT {columns} FROM chains c JOIN {table} t ON t.chain = c.head AND t.depth <= c.upto"""


def _up_cte(table: str, seeds: str) -> str:
    """`up(tip, id, parent_id, depth)`: the turns from the root to each seed turn (`tip`), `depth`
    counted from the tip (0) up. Its parameters: those of `seeds`, then the conversation's id."""
    return f"""{_chains_cte(table, seeds)},
        up(tip, id, parent_id, depth) AS ({_in_chains(table, "c.tip, t.id, t.parent_id, c.tip_depth - t.depth")}
        )"""


def _path_cte(table: str) -> str:
    """`up(tip, id, parent_id, depth)` for one seed turn; parameters: the turn, the conversation."""
    return _up_cte(table, "id = %s")


def _branch_cte(table: str) -> str:
    """`ordered(id, position)`: the branch through the seed turn, root first (position 0 is the
    seed, the root negative, turns below it positive)."""
    return f"""
        WITH RECURSIVE {_path_cte(table)},
        down(id, depth) AS (
            SELECT id, 0 FROM up WHERE depth = 0
            UNION ALL
            SELECT (SELECT c.id FROM {table} c WHERE c.parent_id = down.id ORDER BY c.id DESC LIMIT 1),
                   down.depth + 1
            FROM down WHERE down.id IS NOT NULL AND down.depth < {MAX_DEPTH}
        ),
        ordered(id, position) AS (
            SELECT id, -depth FROM up
            UNION ALL
            SELECT id, depth FROM down WHERE depth > 0 AND id IS NOT NULL
        )"""


class TurnQuerySet(models.QuerySet):
    def _table(self) -> str:
        return connection.ops.quote_name(self.model._meta.db_table)

    def _columns(self) -> str:
        return ", ".join(f"t.{f.column}" for f in self.model._meta.concrete_fields)

    def path_sql(self) -> str:
        """The query of `path`: every column of the turns root → turn; parameters: the turn, the
        conversation."""
        return f"""
            WITH RECURSIVE {_chains_cte(self._table(), "id = %s")}
            {_in_chains(self._table(), self._columns())}
            ORDER BY depth"""

    def path(self, *, conversation_id: int, turn_id: int) -> list[Turn]:
        """The turns from the root down to `turn_id`, in one query. Empty if it is not in the
        conversation."""
        return list(self.raw(self.path_sql(), [turn_id, conversation_id]))

    def paths(self, *, conversation_id: int, turn_ids: list[int]) -> dict[int, list[Turn]]:
        """Root → turn paths for several turns of a conversation, in one query. Turns that are not
        in the conversation are missing from the result."""
        seeds = ", ".join(["%s"] * len(turn_ids))
        sql = f"""
            WITH RECURSIVE {_chains_cte(self._table(), f"id IN ({seeds})")}
            {_in_chains(self._table(), f"c.tip AS tip, {self._columns()}")}
            ORDER BY tip, depth"""
        paths: dict[int, list[Turn]] = {}
        for turn in self.raw(sql, [*turn_ids, conversation_id]):
            paths.setdefault(turn.tip, []).append(turn)
        return paths

    def branch_through(self, *, conversation_id: int, turn_id: int) -> list[Turn]:
        """The branch that passes through `turn_id`: root → turn, then on down through the newest
        child at each step to a leaf. One query. Empty if the turn is not in the conversation."""
        table = self._table()
        sql = f"""{_branch_cte(table)}
            SELECT {self._columns()} FROM {table} t JOIN ordered o ON t.id = o.id
            ORDER BY o.position"""
        return list(self.raw(sql, [turn_id, conversation_id]))

    def branch_rows(self, *, conversation_id: int, turn_id: int, columns: str) -> list[tuple]:
        """`branch_through` as rows of `columns` (SQL over the turn `t`), for reads that skip the
        text of thousands of turns."""
        table = self._table()
        sql = f"""{_branch_cte(table)}
            SELECT {columns} FROM {table} t JOIN ordered o ON t.id = o.id
            ORDER BY o.position"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [turn_id, conversation_id])
            return cursor.fetchall()

    def subtree_ids(self, *, conversation_id: int, turn_id: int) -> list[int]:
        """The turn and every turn below it, in one query (breadth first)."""
        sql = f"""
            WITH RECURSIVE below(id, depth) AS (
                SELECT id, 0 FROM {self._table()} WHERE id = %s AND conversation_id = %s
                UNION ALL
                SELECT t.id, below.depth + 1 FROM {self._table()} t JOIN below ON t.parent_id = below.id
                WHERE below.depth < {MAX_DEPTH}
            )
            SELECT id FROM below ORDER BY depth, id"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [turn_id, conversation_id])
            return [row[0] for row in cursor.fetchall()]

    def append(self, *, parent: Turn | None = None, first_child: bool | None = None, **fields) -> Turn:
        """A new turn under `parent` (a new root when None), placed in its tree (see lineage.py):
        it continues the parent's chain unless the parent already has a child. The caller holds
        the conversation's lock; `first_child` may say what it already knows, saving a query."""
        if parent is None:
            return self.create(parent=None, depth=0, chain=None, **fields)
        if first_child is None:
            first_child = not self.filter(parent_id=parent.pk).exists()
        depth, chain = placed_under(parent.depth, parent.chain, parent.pk, first_child=first_child)
        return self.create(parent=parent, depth=depth, chain=chain, **fields)
