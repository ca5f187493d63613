"""Run the server: daphne on uvloop's event loop.

    python -m workbench.serve [daphne's own arguments, e.g. -b 127.0.0.1 -p 8000 workbench.asgi:application]

Daphne runs Twisted's asyncio reactor on an event loop it makes itself, unless an asyncio reactor
is installed already, in which case it uses that one. Installing the reactor on a uvloop loop first
gives the whole server (Twisted's sockets, the websockets, the consumers, the SDKs' HTTP clients)
uvloop's event loop, written in C on libuv: each wake-up of the loop, paid for every token a model
streams, costs a fraction of the standard library's (BENCHMARKS.md). `WORKBENCH_EVENT_LOOP=asyncio`
keeps the standard library's loop.
"""
from __future__ import annotations

import asyncio
import os
import sys

EVENT_LOOPS = ("uvloop", "asyncio")


def event_loop_name() -> str:
    name = os.environ.get("WORKBENCH_EVENT_LOOP", "").strip().lower() or "uvloop"
    if name not in EVENT_LOOPS:
        raise SystemExit(f"WORKBENCH_EVENT_LOOP must be one of: {', '.join(EVENT_LOOPS)} (it is {name!r}).")
    return name


def install_reactor() -> str:
    """Install Twisted's asyncio reactor on the chosen loop, before daphne is imported; its name."""
    # Imported here: whoever imports Twisted's reactor first chooses it.
    from twisted.internet import asyncioreactor

    name = event_loop_name()
    if name == "uvloop":
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncioreactor.install(loop)
    return name


def main(argv: list[str] | None = None) -> None:
    install_reactor()
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
