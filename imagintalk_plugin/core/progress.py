"""The progress/cancel protocol shared by the CLI, the panel and batch jobs.

A job is a plain generator: it yields `Progress` between steps and returns its result. Whoever
drives it (a progress bar, a Qt worker) decides how to show progress and when to stop; `drive`
checks a `CancelToken` between steps and closes the generator, so the job's `finally` blocks run
and nothing partial is left behind. This follows superqt's generator worker: the job knows
nothing about the UI.

A step can be long (a batch through the Style-DiT's diffusion steps): code deep inside one
calls `cancel_point()`, which raises `CancelledError` when the token of the `drive` running it
on this thread was cancelled, so a cancel lands within one inner step, not one whole stage.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from imagintalk_plugin.core.errors import CancelledError

T = TypeVar("T")

_active = threading.local()  # the token of the `drive` running on this thread, if any


@dataclass(frozen=True)
class Progress:
    """One step of a job: `done` of `total` units of `stage`, optionally for one clip."""

    stage: str
    done: int
    total: int
    clip_id: str | None = None
    message: str = ""
    unit: str = "frame"  # what `done` counts, for progress bars

    @property
    def fraction(self) -> float:
        """Completed share of this stage in [0, 1]; 0 when the total is unknown."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


Job = Generator[Progress, None, T]


class CancelToken:
    """Thread-safe cancel flag: the GUI thread sets it, the worker checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next step."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel() was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `CancelledError` if cancel() was called (for loops inside a step)."""
        if self._event.is_set():
            raise CancelledError()


def drive(
    job: Job[T],
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> T:
    """Run `job` to completion, reporting each step; raise `CancelledError` when cancelled.

    On cancel the generator is closed (GeneratorExit inside it), so its cleanup runs before
    this returns. While a step runs, `cancel_point()` inside it sees `cancel`.
    """
    outer = getattr(_active, "token", None)
    _active.token = cancel if cancel is not None else outer
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                job.close()
                raise CancelledError()
            step = next(job)
            if on_progress is not None:
                on_progress(step)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    finally:
        _active.token = outer


def cancel_point() -> None:
    """Raise `CancelledError` if the job this thread is driving was cancelled.

    For loops inside one step (the sampler's diffusion steps, a batch's clips): the step's
    generator then ends with the error, its `finally` blocks run, and `drive` re-raises it.
    Outside any `drive` (or a drive without a token) it does nothing.
    """
    token = getattr(_active, "token", None)
    if token is not None:
        token.raise_if_cancelled()


@contextmanager
def interruptible() -> Iterator[CancelToken]:
    """A cancel token the first Ctrl-C sets; the second restores Python's hard stop."""
    cancel = CancelToken()
    previous = signal.getsignal(signal.SIGINT)

    def first_interrupt(signum: int, frame: Any) -> None:
        cancel.cancel()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)
