"""Where a turn sits in its tree, stored so that a root → turn path is read in a few index scans
instead of one lookup per ancestor.

A *chain* is a run of turns each of which was the first child of the one before: a branch that was
never forked runs down a single chain. A turn keeps its `depth` (0 for a root) and `chain`, the id
of its chain's first turn (its head); a head keeps `chain` empty. A turn becomes the head of a new
chain when it is a root, or when its parent already has a child (a fork: an edit, a regeneration,
another variant). A path then crosses one chain per fork on it: from the chain of the turn, every
member up to its depth, then the parent of the chain's head, and so on to the root
(selectors.py: `_chains_cte`, `path_sql`).

Writes take the conversation's lock (services.py), so "its parent already has a child" cannot
race; a unique (chain, depth) constraint turns any write that gets around it into an error rather
than a wrong path.
"""
from __future__ import annotations

from collections.abc import Iterable


def placed_under(
    parent_depth: int, parent_chain: int | None, parent_id: int, *, first_child: bool
) -> tuple[int, int | None]:
    """(depth, chain) of a new child of the parent described."""
    return parent_depth + 1, (parent_chain or parent_id) if first_child else None


def lineage(rows: Iterable[tuple[int, int | None]]) -> dict[int, tuple[int, int | None]]:
    """(depth, chain) of every turn of a tree given as (id, parent id) rows, in any order: among
    siblings the oldest (lowest id) continues its parent's chain, as it did when it was made."""
    children: dict[int | None, list[int]] = {}
    for turn_id, parent_id in rows:
        children.setdefault(parent_id, []).append(turn_id)
    placed: dict[int, tuple[int, int | None]] = {}
    stack: list[tuple[int, int, int | None]] = [(root, 0, None) for root in children.get(None, ())]
    while stack:
        turn_id, depth, chain = stack.pop()
        placed[turn_id] = (depth, chain)
        below = sorted(children.get(turn_id, ()))
        for index, child in enumerate(below):
            stack.append((child, *placed_under(depth, chain, turn_id, first_child=index == 0)))
    return placed
