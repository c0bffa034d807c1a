"""What a dub did: each clip's outcome, and the run's report for the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ClipOutcome:
    """What happened to one clip."""

    clip_id: str
    name: str
    status: str  # done / reused / failed
    files: list[Path] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # what the editor should know of its takes


@dataclass
class DubReport:
    """The run's result: per-clip outcomes and the timeline written."""

    output: Path | None
    outcomes: list[ClipOutcome]
    notes: tuple[str, ...] = ()  # e.g. the relink summary
    cue_list: Path | None = None  # the ADR cue list written beside the output

    @property
    def failed(self) -> list[ClipOutcome]:
        """Clips that got no dialogue."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        """Human lines for the terminal."""
        done = len(self.outcomes) - len(self.failed)
        reused = sum(o.status == "reused" for o in self.outcomes)
        lines = [*self.notes, f"{done} of {len(self.outcomes)} clip(s) dubbed"]
        if reused:
            lines[-1] += f" ({reused} reused from an earlier run)"
        if self.output is not None:
            lines[-1] += f"; wrote {self.output}"
        if self.cue_list is not None:
            lines[-1] += f" and its cue list {self.cue_list.name}"
        for o in self.outcomes:
            detail = o.error if o.error else ", ".join(p.name for p in o.files)
            lines.append(f"  {o.clip_id:8s} {o.status:7s} {o.name}: {detail}")
            lines += [f"  {'':8s} {'note':7s} {note}" for note in o.notes]
        return "\n".join(lines)
