"""The world bench.search measures: 250,000 turns in 5,000 conversations of text with English's word
frequencies, built in bulk through the real schema and its index triggers, and the queries to time
on it. Part of `python -m bench.search` (bench/search.py)."""
from __future__ import annotations

import itertools
import random
import time
from datetime import UTC, datetime, timedelta

VOCABULARY = 50_000
SEED = 14


class Words:
    """Pseudo-words (syllables), shorter ones more frequent, drawn with Zipf frequencies (s = 1.05)."""

    def __init__(self, rng: random.Random) -> None:
        consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
        seen: set[str] = set()
        words: list[str] = []
        while len(words) < VOCABULARY:
            syllables = min(1 + int(rng.expovariate(0.7)), 5)
            word = "".join(
                rng.choice(consonants) + rng.choice(vowels) + (rng.choice("nrst") if rng.random() < 0.3 else "")
                for _ in range(syllables)
            )
            if word not in seen:
                seen.add(word)
                words.append(word)
        # Shorter words are on the whole more frequent, as in English, but not strictly.
        words.sort(key=lambda word: len(word) + rng.uniform(0, 6))
        self.words = words
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(VOCABULARY)))
        self.rng = rng

    def text(self, count: int) -> str:
        chosen = self.rng.choices(self.words, cum_weights=self.cumulative, k=count)
        # Sentences, so that texts look like text to the tokenizers (capitals, full stops).
        out, since = [], 0
        for word in chosen:
            out.append(word.capitalize() if since == 0 else word)
            since += 1
            if since > 6 and self.rng.random() < 0.12:
                out[-1] += "."
                since = 0
        return " ".join(out) + "."

    def at(self, rank: int) -> str:
        return self.words[rank]


def _tree(size: int, rng: random.Random) -> list[int | None]:
    """Parents (indexes) of `size` turns alternating prompt and reply: a line, and now and then an
    edit or a regeneration (a turn beside the one two back, of its role), the line going on from it."""
    parents: list[int | None] = []
    for index in range(size):
        if index >= 2 and rng.random() < 0.08:
            parents.append(parents[index - 2])
        else:
            parents.append(index - 1 if index else None)
    return parents


def _long_tree(size: int, trunk: int, branch: int = 10) -> tuple[list[int | None], list[int]]:
    """A main line of `trunk` turns, then side branches of `branch` turns spread along it; and the
    indexes of the side branches' first turns."""
    parents: list[int | None] = [index - 1 if index else None for index in range(trunk)]
    groups = (size - trunk) // branch
    starts = []
    for group in range(groups):
        first = trunk + group * branch
        anchor = (group + 1) * trunk // (groups + 1)
        if anchor % 2 == first % 2:  # a turn follows one of the other role
            anchor -= 1
        starts.append(first)
        parents += [anchor] + [first + step for step in range(branch - 1)]
    parents += [len(parents) - 1 + step for step in range(size - len(parents))]
    return parents, starts


def build(total: int, conversations: int, log=print) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from conversations.lineage import lineage
    from conversations.models import Conversation, Membership, Turn, Workspace
    from conversations.tokens import count_all

    rng = random.Random(SEED)
    words = Words(rng)
    stamp = time.time_ns()
    owner = User.objects.create_user(f"owner{stamp}", password="bench-password-1")
    member = User.objects.create_user(f"member{stamp}", password="bench-password-1")
    spaces = [Workspace.objects.create(name=f"Workspace {n}") for n in range(20)]
    Membership.objects.bulk_create([Membership(workspace=w, user=owner, role="owner") for w in spaces]
                                   + [Membership(workspace=spaces[0], user=member, role="editor")])
    models = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4"), ("openai", "o3-mini"), ("ollama", "llama3")]
    start = datetime.now(UTC) - timedelta(days=730)
    counts = count_all("placeholder")  # the counts' shape; their values matter to no search
    table = connection.ops.quote_name(Turn._meta.db_table)
    long_size, trunk = (10_000, 9_800) if total >= 50_000 else (total // 10, total // 10 - 100)
    rest, others = total - long_size, conversations - 1
    sizes = [rest * (n + 1) // others - rest * n // others for n in range(others)]
    sizes.insert(others // 2, long_size)
    made = 0
    long_conversation = None
    for number, size in enumerate(sizes):
        when = start + timedelta(days=730 * number / conversations)
        provider, model = models[number % len(models)]
        conversation = Conversation.objects.create(
            owner=owner, workspace=spaces[number % len(spaces)], title=words.text(rng.randint(2, 6)).rstrip(".")
        )
        starts: list[int] = []
        if number == others // 2:
            parents, starts = _long_tree(size, trunk)
        else:
            parents = _tree(size, rng)
        order = list(range(size))
        rows = []
        for index in range(size):
            reply = index % 2 == 1
            length = 20 + int(rng.expovariate(1 / 150)) if reply else 3 + int(rng.expovariate(1 / 25))
            rows.append(Turn(conversation=conversation, role="assistant" if reply else "user",
                             content=words.text(length), token_counts=counts,
                             provider=provider if reply else "", model=model if reply else ""))
        # The long one's side branches are older than its main line (the versions it moved on
        # from), so the main line is the newest child at every step, as it is in use.
        order = [*range(trunk, size), *range(trunk)] if starts else list(range(size))
        with transaction.atomic():
            created = Turn.objects.bulk_create([rows[i] for i in order], batch_size=1000)
            ids = [0] * size
            for position, index in enumerate(order):
                ids[index] = created[position].id
            links = [(ids[i], ids[p] if p is not None else None) for i, p in enumerate(parents)]
            placed = lineage(links)
            stamps = [connection.ops.adapt_datetimefield_value(when + timedelta(minutes=i)) for i in range(size)]
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET parent_id = %s, depth = %s, chain = %s, created_at = %s WHERE id = %s",
                    [(parent, *placed[turn], stamps[i], turn) for i, (turn, parent) in enumerate(links)],
                )
            # The long one opens on its main line: its side branches are where it does not open.
            Conversation.objects.filter(pk=conversation.pk).update(
                current_turn_id=ids[trunk - 1] if starts else ids[-1],
                created_at=when, updated_at=when + timedelta(minutes=size))
        made += size
        if starts:
            long_conversation = (conversation, ids, starts)
        if number % 500 == 0:
            log(f"  {number:,} conversations, {made:,} turns")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"owner": owner, "member": member, "words": words, "long": long_conversation,
            "workspace": spaces[0], "models": models}


def _remembered_phrase(rng: random.Random) -> str:
    """Two words side by side in a stored turn: a phrase someone could remember."""
    from conversations.models import Turn

    top = Turn.objects.order_by("-id").values_list("id", flat=True)[0]
    while True:
        content = Turn.objects.filter(pk=rng.randrange(1, top + 1)).values_list("content", flat=True).first()
        words = (content or "").rstrip(".").replace(".", "").split()
        if len(words) >= 2:
            start = rng.randrange(len(words) - 1)
            return '"' + " ".join(words[start:start + 2]) + '"'


def queries(world: dict) -> list[tuple[str, str, dict]]:
    """(kind, query text, filters) to time: words by how common they are, and combinations."""
    words = world["words"]
    rng = random.Random(SEED + 1)
    pick = lambda low, high: words.at(rng.randrange(low, high))  # noqa: E731
    long_words = [words.at(rank) for rank in range(1_500, 20_000) if len(words.at(rank)) >= 7]
    found = []
    for _ in range(4):
        found += [
            ("a rare word (in a handful of turns)", pick(20_000, 50_000), {}),
            ("an uncommon word (0.1–1 % of turns)", pick(1_500, 6_000), {}),
            ("a common word (5–20 % of turns)", pick(60, 400), {}),
            ("a very common word (over half the turns)", pick(0, 12), {}),
            ("two words", f"{pick(1_500, 6_000)} {pick(60, 400)}", {}),
            ("three words", f"{pick(400, 3_000)} {pick(60, 400)} {pick(1_500, 6_000)}", {}),
            ("a phrase remembered from a text", _remembered_phrase(rng), {}),
            ("a phrase of two very common words", f'"{pick(0, 12)} {pick(0, 12)}"', {}),
            ("a prefix of 3 letters", pick(200, 2_000)[:3], {}),
            ("a prefix of 5 letters", rng.choice(long_words)[:5], {}),
            ("a common word, replies only", pick(60, 400), {"role": "reply"}),
            ("a common word, one model", pick(60, 400), {"model": ":".join(world["models"][0])}),
            ("a common word, last 90 days", pick(60, 400), {"from": "recent"}),
            ("a common word, one workspace", pick(60, 400), {"w": world["workspace"].id}),
        ]
    return found
