"""Heavy work in its own process, so the web process's event loop keeps answering.

CPU-bound Python in a thread (``asyncio.to_thread``) still holds the GIL for most of its run:
while the console trained a model that way, chat p95 went from ~20 ms to ~400 ms. A child
process has its own interpreter. It is started with ``spawn`` (never ``fork``: the parent has
threads, open sockets and an event loop), runs at a lower CPU priority (nice 10), reports
progress through a pipe, and is terminated if the job is cancelled (the app shutting down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

log = logging.getLogger("minhu.jobs")

T = TypeVar("T")
POLL_SECONDS = 0.05
NICENESS = 10


class JobError(Exception):
    """The job raised in its process: ``kinds`` are the names of the exception's classes
    there (its own first, then its bases), ``message`` its text."""

    def __init__(self, kinds: tuple[str, ...], message: str) -> None:
        super().__init__(f"{kinds[0]}: {message}")
        self.kinds = kinds
        self.message = message


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    def progress(stage: str, fraction: float) -> None:
        conn.send(("progress", stage, fraction))

    if hasattr(os, "nice"):
        # background work: on a small machine the web process gets the CPU first
        with contextlib.suppress(OSError):
            os.nice(NICENESS)
    try:
        result = fn(*args, progress=progress)
    except BaseException as e:  # everything goes back to the parent, nothing is lost
        kinds = tuple(c.__name__ for c in type(e).__mro__)
        conn.send(("error", kinds, str(e), traceback.format_exc()))
    else:
        conn.send(("done", result))
    finally:
        conn.close()


async def run_in_process(
    fn: Callable[..., T], *args: Any, progress: Callable[[str, float], None]
) -> T:
    """Run ``fn(*args, progress=...)`` in a fresh process and return its result.

    ``fn``, its arguments and its result must be picklable (a module-level function, plain
    data). ``progress(stage, fraction)`` calls in the child reach ``progress`` here.

    Raises:
        JobError: ``fn`` raised (its class name and message), or the process died.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, fn, args), daemon=True)
    await asyncio.to_thread(process.start)  # spawning imports the module: not on the loop
    child.close()
    try:
        while True:
            if parent.poll():
                try:
                    message = parent.recv()
                except EOFError:
                    break
                if message[0] == "progress":
                    progress(message[1], message[2])
                    continue
                if message[0] == "done":
                    result: T = message[1]
                    return result
                log.error("job %s failed in its process:\n%s", fn.__name__, message[3])
                raise JobError(message[1], message[2])
            if not process.is_alive() and not parent.poll():
                break
            await asyncio.sleep(POLL_SECONDS)
        raise JobError(("ProcessDied",), f"the job process exited with {process.exitcode}")
    finally:
        parent.close()
        if process.is_alive():
            process.terminate()
        await asyncio.to_thread(process.join, 5)
