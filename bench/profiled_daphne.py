"""Daphne under cProfile, counting CPU time of its event-loop thread, only between two signals.

    python -m bench.profiled_daphne PROFILE_PATH [daphne arguments…]

SIGUSR1 starts profiling (after start-up and a warm-up, so imports are not in it); SIGUSR2 stops
it and writes the profile to PROFILE_PATH. The timer is the thread's CPU clock, so time the loop
spends waiting in epoll is not counted.
"""
from __future__ import annotations

import cProfile
import signal
import sys
import time


def main() -> None:
    path = sys.argv[1]
    profiler = cProfile.Profile(time.thread_time)

    def start(signum, frame) -> None:
        profiler.enable()

    def stop(signum, frame) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from workbench.serve import main as serve

    serve(sys.argv[2:])


if __name__ == "__main__":
    main()
