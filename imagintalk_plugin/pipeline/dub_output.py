"""A dub's output: checked before any work, locked while a run writes it, recorded when done.

- Checked first, once: the output is not the input, its format is known, its folder exists and
  can be written (tried for real), and an existing output file is replaced only when this
  project's last run wrote it unchanged (a rerun resumes) or `force` says so.
- One run at a time: a lock file beside the output (an OS lock: a killed run leaves none that
  blocks), so two runs never mix their takes into one timeline.
- `<stem>_dialogue/.imagintalk-dub.json` records the SHA-256 of the timeline the run wrote (and
  of its cue list, `<stem>_cues.csv`); a rerun that finds them as written may replace them. A
  user's edit, or another file of the same name, is never replaced without `force`. The record
  also keeps the run's cast, for the next run into this output (`pipeline/casting.py`).
- A run that wrote nothing leaves nothing: an empty `_dialogue/` folder it made is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.errors import OutputExistsError, UsageError
from imagintalk_plugin.core.files import atomic_path, check_writable_folder, exclusive_lock
from imagintalk_plugin.timeline.writing import output_adapter

RUN_RECORD = ".imagintalk-dub.json"


@dataclass(frozen=True)
class DubOutput:
    """Where a dub writes: the timeline file and the folder of its takes."""

    timeline: Path
    media_dir: Path

    @property
    def lock(self) -> Path:
        """The lock file beside the output."""
        return self.timeline.parent / f".{self.timeline.name}.imagintalk-lock"

    @property
    def record(self) -> Path:
        """The run record in the takes' folder."""
        return self.media_dir / RUN_RECORD

    @property
    def cue_list(self) -> Path:
        """The ADR cue list beside the output: `<stem>_cues.csv`."""
        return self.timeline.parent / f"{self.timeline.stem}_cues.csv"

    def _recorded(self) -> dict[str, Any]:
        try:
            record = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def written_by_us(self) -> bool:
        """Whether the output file is the timeline our last run wrote, unchanged."""
        return self._recorded().get("sha256") == _sha256(self.timeline)

    def cue_list_written_by_us(self) -> bool:
        """Whether the cue list file is the one our last run wrote, unchanged."""
        return self._recorded().get("cue_list_sha256") == _sha256(self.cue_list)

    def saved_cast(self) -> dict[str, str]:
        """The cast our last run into this output used (`{character: "KIND:VALUE"}`)."""
        cast = self._recorded().get("cast")
        return cast if isinstance(cast, dict) else {}

    def remember_written(self, cast: dict[str, str] | None = None) -> None:
        """Record the digests of the timeline (and cue list) just written, and the run's cast,
        for the next run's resume."""
        record: dict[str, Any] = {"output": self.timeline.name, "sha256": _sha256(self.timeline)}
        if self.cue_list.exists():
            record["cue_list_sha256"] = _sha256(self.cue_list)
        if cast:
            record["cast"] = cast
        with atomic_path(self.record) as tmp:
            tmp.write_text(json.dumps(record, indent=2))


def check_output(timeline: Path, output: Path, force: bool) -> DubOutput:
    """The output of a dub of `timeline`, checked before any work (one-line errors)."""
    if output.resolve() == timeline.resolve():
        raise UsageError(f"output '{output}' is the input timeline; it is never overwritten")
    output_adapter(output, force=True)  # a known format
    if output.is_dir():
        raise UsageError(f"output '{output}' is a folder; name a timeline file")
    why = check_writable_folder(output.parent)
    if why is not None:
        raise UsageError(f"cannot write the output '{output}': {why}")
    dub = DubOutput(output, output.parent / f"{output.stem}_dialogue")
    if dub.media_dir.exists():
        why = check_writable_folder(dub.media_dir)
        if why is not None:
            raise UsageError(f"cannot write the takes: {why}")
    if output.exists() and not force and not dub.written_by_us():
        raise OutputExistsError(output)
    if dub.cue_list.exists() and not force and not dub.cue_list_written_by_us():
        raise OutputExistsError(dub.cue_list)
    return dub


@contextlib.contextmanager
def holding(output: DubOutput) -> Iterator[None]:
    """The run's lock on `output` for the block; removes a `_dialogue/` folder that this run
    made and left empty (every clip failed, or a cancel before the first take)."""
    made = not output.media_dir.exists()
    with exclusive_lock(output.lock):
        try:
            yield
        finally:
            if made and output.media_dir.is_dir() and not any(output.media_dir.iterdir()):
                output.media_dir.rmdir()


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
