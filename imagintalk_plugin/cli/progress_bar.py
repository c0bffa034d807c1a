"""Terminal progress for jobs: one tqdm bar per stage, on stderr, for the command line."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from imagintalk_plugin.core.progress import Progress

OVERALL_UNIT = "clip"  # steps counting clips are the run's overall progress


class ProgressBars:
    """Callable for `drive(on_progress=...)`: shows each stage's progress as a tqdm bar.

    Steps counted in clips (`unit="clip"`) drive one overall bar that stays on the top line
    for the whole run; every other stage gets a bar below it, which a new stage (or a new
    clip) replaces. Use as a context manager so the bars are closed even on error or Ctrl-C.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._overall: Any = None
        self._key: tuple[str, str | None] | None = None

    def __call__(self, step: Progress) -> None:
        """Show one step."""
        if not self.enabled:
            return
        from tqdm import tqdm

        if step.unit == OVERALL_UNIT:
            if self._overall is not None and self._overall.desc != step.stage:
                self.close()
            if self._overall is None:
                self._overall = tqdm(total=step.total, desc=step.stage, unit="clip", position=0)
            self._overall.total = step.total
            self._overall.update(max(0, step.done - self._overall.n))
            return
        key = (step.stage, step.clip_id)
        if key != self._key:
            self.close_stage()
            label = f"{step.clip_id}: {step.stage}" if step.clip_id else step.stage
            position = 1 if self._overall is not None else 0
            self._bar = tqdm(
                total=step.total or None, desc=label, unit=step.unit, leave=False, position=position
            )
            self._key = key
        if step.total and self._bar.total != step.total:
            self._bar.total = step.total
        if step.message:
            self._bar.set_postfix_str(step.message, refresh=False)  # e.g. the training loss
        self._bar.update(max(0, step.done - self._bar.n))

    def close_stage(self) -> None:
        """Close the current stage's bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None

    def close(self) -> None:
        """Close every bar."""
        self.close_stage()
        if self._overall is not None:
            self._overall.close()
            self._overall = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
