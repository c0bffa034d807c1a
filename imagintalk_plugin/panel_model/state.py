"""The panel's state as plain data: clips, their style settings and their takes (no Qt).

The widgets draw this and the controller changes it; nothing here imports Qt, and neither torch
nor the pipeline at module level, so the state is testable on its own and the panel opens fast.
`ClipSpeech` and `LipTrack` come from the pipeline's jobs and are only held here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.progress import Progress
from imagintalk_plugin.core.signals import EMOTIONS, LipTrack

if TYPE_CHECKING:
    from imagintalk_plugin.pipeline.speech import ClipSpeech

PENDING, RUNNING, DONE, FAILED, OFFLINE = "pending", "running", "done", "failed", "offline"
STATUSES = (PENDING, RUNNING, DONE, FAILED, OFFLINE)

# Stages of `speak_track`; anything else a clip job yields comes from the front-end.
SPEECH_STAGES = ("lip aligner", "error detector", "refiner", "style-dit", "silence", "prosody")
FRONTEND_SHARE = 0.3  # of a clip's progress bar: reading lips and face vs generating speech


@dataclass(frozen=True)
class StyleSettings:
    """What an editor may change about a clip's next take (the `dub` command's options).

    `emotion` None takes the emotion from the face; `threshold` None uses the checkpoint's
    calibrated detector threshold. With `seed_locked` a regenerated take keeps `seed` (to
    hear only the effect of another setting); otherwise it gets a seed no take has used.
    Defaults match `imagintalk dub` (16 steps, guidance 2).

    The timbre comes from the clip's own face unless `timbre_clip` names another clip of the
    timeline (its face identity is used) or `reference_audio` is a voice recording (its
    speaker embedding is used); at most one of the two is set. A clip whose `character` is
    cast (the controller's casts) speaks in the cast voice instead.

    ADR: `line` is the known line the take says, its timing from the lips (None: the words
    read from the lips); `character` is who speaks it (the character's cast voice, the
    character's dialogue track). Both start as the timeline carries them (`adr.carried`).
    """

    pitch: float = 0.0  # semitones
    speed: float = 1.0  # speaking speed factor
    emotion: str | None = None
    guidance: float = 2.0
    steps: int = 16
    threshold: float | None = None
    seed: int = 0
    seed_locked: bool = False
    timbre_clip: str | None = None  # clip id whose face gives the timbre
    reference_audio: Path | None = None  # WAV whose voice gives the timbre
    line: str | None = None  # ADR: the known line; None = the words read from the lips
    character: str | None = None  # who speaks: casting and the dialogue track

    def __post_init__(self) -> None:
        if self.timbre_clip is not None and self.reference_audio is not None:
            raise ValueError("the timbre comes from another face or a reference voice, not both")
        if self.emotion is not None and self.emotion not in EMOTIONS:
            raise ValueError(f"emotion '{self.emotion}' is not one of {', '.join(EMOTIONS)}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, not {self.steps}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"detector threshold {self.threshold} is outside 0-1")

    def describe(self, timbre: str | None = None) -> str:
        """One line for the takes list (`timbre` replaces `timbre()`: a cast take's voice)."""
        parts = [f'"{_short(self.line)}"'] if self.line else []
        parts += [f"seed {self.seed}", f"{self.steps} steps", f"guidance {self.guidance:g}"]
        if self.pitch:
            parts.append(f"pitch {self.pitch:+g} st")
        if self.speed != 1.0:
            parts.append(f"speed x{self.speed:g}")
        parts.append(self.emotion or "emotion from face")
        parts.append(timbre or self.timbre())
        return ", ".join(parts)

    def timbre(self) -> str:
        """Where the voice's timbre comes from, for the takes list and the controls."""
        if self.timbre_clip is not None:
            return f"timbre from {self.timbre_clip}'s face"
        if self.reference_audio is not None:
            return f"timbre from {Path(self.reference_audio).name}"
        return "timbre from face"


@dataclass
class Take:
    """One generated take of a clip and the settings that made it."""

    number: int  # 1, 2, ... in the order they were made
    speech: ClipSpeech
    style: StyleSettings  # with the seed actually used
    circled: bool = False

    def label(self) -> str:
        """`● take 2: seed 1, ...` — circled takes are marked as on a camera report."""
        mark = "●" if self.circled else "○"
        return f"{mark} take {self.number}: {self.style.describe(self.cast_voice())}"

    @property
    def notes(self) -> tuple[str, ...]:
        """What the editor should know about the take (a line that barely fits its clip)."""
        return tuple(getattr(self.speech, "notes", ()) or ())

    def timbre_record(self) -> dict[str, str]:
        """The take's recorded timbre (`settings["timbre"]`: its source, a cast's character)."""
        settings = getattr(getattr(self.speech, "take", None), "settings", None)
        timbre = settings.get("timbre") if isinstance(settings, dict) else None
        return dict(timbre) if isinstance(timbre, dict) else {}

    def cast_voice(self) -> str | None:
        """A cast take's voice, `ALICE's cast voice (bank:narrator)`; None for other takes."""
        timbre = self.timbre_record()
        if timbre.get("source") != "cast":
            return None
        return f"{timbre.get('character')}'s cast voice ({timbre.get('cast')})"


@dataclass
class ClipState:
    """One clip of the timeline in the panel."""

    ref: ClipRef
    record_timecode: str
    style: StyleSettings
    status: str = PENDING
    error: str = ""  # one line: why the clip failed or is offline
    stage: str = ""  # the running stage, or "queued"
    fraction: float = 0.0  # of the running clip's job
    takes: list[Take] = field(default_factory=list)
    track: LipTrack | None = None  # the prepared lips and face, kept for regenerating
    carried_line: str | None = None  # the line the timeline carries for the clip
    carried_character: str | None = None  # the character the timeline gives it

    @property
    def clip_id(self) -> str:
        """The clip's stable id ("V1-003")."""
        return self.ref.clip_id

    @property
    def duration_s(self) -> float:
        """Length on the timeline in seconds."""
        return float(self.ref.record_range.duration.to_seconds())

    def chosen_take(self) -> Take | None:
        """The circled take, else the latest; None before the first take."""
        circled = [t for t in self.takes if t.circled]
        return circled[0] if circled else (self.takes[-1] if self.takes else None)


@dataclass(frozen=True)
class ClipRequest:
    """Everything the worker needs to make one take, snapshotted on the GUI thread."""

    clip: ClipRef
    style: StyleSettings  # seed included
    take: int
    track: LipTrack | None = None  # None: read lips and face first (prepare_clip)
    timbre_clip: ClipRef | None = None  # the clip named by style.timbre_clip
    timbre_track: LipTrack | None = None  # its lips and face when already read
    cast: str | None = None  # the cast of style.character ("face:V1-002"), replacing the timbre
    cast_clip: ClipRef | None = None  # a face cast's clip
    cast_track: LipTrack | None = None  # its lips and face when already read


@dataclass(frozen=True, eq=False)
class ClipResult:
    """What a clip job returns: the lips and face it read and the generated speech."""

    clip_id: str
    take: int
    style: StyleSettings
    track: LipTrack
    speech: Any  # ClipSpeech (kept as Any so this module needs no pipeline import)


@dataclass(frozen=True)
class ModelConfig:
    """Which model to run and where (the panel's settings; the worker loads it)."""

    checkpoint: Path | None = None  # None: the shipped demo model
    device: str = "auto"  # auto / cpu / cuda
    backend: str = "torch"  # torch / onnx
    threads: int = 0  # CPU threads, 0 = torch's default


@dataclass(frozen=True)
class PanelEvent:
    """What changed, for observers: `timeline`, `clip`, `progress`, `style`, `takes`, `cast`
    (a character's cast; no clip id), or `session` (saving the session failed: the
    controller's `session_error` says why)."""

    kind: str
    clip_id: str | None = None


def clip_fraction(step: Progress) -> float:
    """A clip job's overall progress (0-1) from one of its steps.

    The front-end (`faces`, `mouth crops`, `cache`) fills the first FRONTEND_SHARE; speech
    windows fill the rest, `prosody` being the last step.
    """
    if step.stage not in SPEECH_STAGES:
        return FRONTEND_SHARE * step.fraction
    if step.stage == "prosody":
        return 0.95 + 0.05 * step.fraction
    return FRONTEND_SHARE + (0.95 - FRONTEND_SHARE) * step.fraction


def _short(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
