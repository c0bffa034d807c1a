"""Terminal progress for jobs: one tqdm bar per stage, on stderr, for the command line."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from imagintalk_plugin.core.progress import Progress


class ProgressBars:
    """Callable for `drive(on_progress=...)`: shows each stage's progress as a tqdm bar.

    A new stage (or a new clip) closes the previous bar. Use as a context manager so the last
    bar is closed even on error or Ctrl-C.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._key: tuple[str, str | None] | None = None

    def __call__(self, step: Progress) -> None:
        """Show one step."""
        if not self.enabled:
            return
        from tqdm import tqdm

        key = (step.stage, step.clip_id)
        if key != self._key:
            self.close()
            label = f"{step.clip_id}: {step.stage}" if step.clip_id else step.stage
            self._bar = tqdm(total=step.total or None, desc=label, unit=step.unit, leave=False)
            self._key = key
        if step.total and self._bar.total != step.total:
            self._bar.total = step.total
        if step.message:
            self._bar.set_postfix_str(step.message, refresh=False)  # e.g. the training loss
        self._bar.update(max(0, step.done - self._bar.n))

    def close(self) -> None:
        """Close the current bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._key = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
