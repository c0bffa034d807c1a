"""Where a dub's takes live on disk, and when one already made can be reused.

Each take is a Broadcast WAV in `<output stem>_dialogue/` with a JSON sidecar (`.take.json`)
holding its record: clip, take number, model (name and content digest), seed, backend and every
setting. The rule:

- A take is reused only when a file's sidecar holds exactly the same record (same model
  content, seed and settings), unless the run asks for fresh takes (`force`).
- A take file is never overwritten by a take of another record: the new one goes to the next
  free version (`V1-001_line_take1_v2.wav`), so takes placed in an earlier cut stay on disk.
- A WAV without a sidecar is somebody else's file: it is left alone, like a foreign take.
"""

from __future__ import annotations

import glob
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.clips import ClipRef, PlacedAudio
from imagintalk_plugin.core.errors import OutputExistsError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.pipeline.speech import TakeInfo
from imagintalk_plugin.timeline.delivery import for_delivery
from imagintalk_plugin.timeline.placement import safe_name, write_placed_audio


@dataclass(frozen=True)
class TakeSlot:
    """The file a take goes to, and whether it already holds that very take."""

    wav: Path
    reusable: bool


def take_path(media_dir: Path, clip: ClipRef, take: int, version: int = 1) -> Path:
    """Where version `version` of take `take` of `clip` is written (version 1 has no suffix)."""
    suffix = "" if version == 1 else f"_v{version}"
    return media_dir / f"{clip.clip_id}_{safe_name(clip.name)}_take{take}{suffix}.wav"


def sidecar(wav: Path) -> Path:
    """The take's metadata file beside its WAV."""
    return wav.with_suffix(".take.json")


def take_record(
    clip: ClipRef, take: int, info: TakeInfo, sample_rate: int | None
) -> dict[str, Any]:
    """JSON-ready metadata of one take delivered at `sample_rate` (None: the model's rate),
    compared on resume."""
    return {
        "clip_id": clip.clip_id,
        "take": take,
        **asdict(info),
        "delivery": {"sample_rate": sample_rate},
    }


def read_record(wav: Path) -> dict[str, Any] | None:
    """The record in `wav`'s sidecar; None when it is missing or unreadable."""
    try:
        record = json.loads(sidecar(wav).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def find_slot(
    media_dir: Path, clip: ClipRef, take: int, record: dict[str, Any], fresh: bool
) -> TakeSlot:
    """The slot for this take: the version whose sidecar holds `record` (reusable unless
    `fresh`, and only while its WAV is there), else the first version whose name is free."""
    stem = take_path(media_dir, clip, take).stem
    pattern = re.compile(rf"{re.escape(stem)}(?:_v(\d+))?\.(?:wav|take\.json)$")
    taken = {
        int(m.group(1) or 1)
        for p in media_dir.glob(f"{glob.escape(stem)}*")
        if (m := pattern.match(p.name)) is not None
    }
    for version in sorted(taken):
        wav = take_path(media_dir, clip, take, version)
        if read_record(wav) == record:
            return TakeSlot(wav, wav.exists() and not fresh)
    free = next(v for v in range(1, len(taken) + 2) if v not in taken)
    return TakeSlot(take_path(media_dir, clip, take, free), False)


def write_take(
    wav: Path,
    clip: ClipRef,
    waveform: Waveform,
    record: dict[str, Any],
    *,
    model: str,
    force: bool,
) -> PlacedAudio:
    """Write one take: its sidecar `record` (`take_record`), then its Broadcast WAV delivered
    at the record's rate, cut to the clip's record length and spotted at its record timecode.

    A cast take's BWF description names its character and cast (`cast_note`). The sidecar goes
    first, so a crash between the two leaves a slot that `find_slot` fills
    again, never a WAV of unknown origin. An existing WAV is replaced only with `force`.
    """
    if wav.exists() and not force:
        raise OutputExistsError(wav)
    seconds = clip.record_range.duration.to_seconds()
    audio = for_delivery(waveform, record["delivery"]["sample_rate"], seconds)
    wav.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(sidecar(wav)) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    return write_placed_audio(
        clip,
        audio,
        wav,
        take=record["take"],
        seed=record["seed"],
        model=model,
        force=True,
        note=cast_note(record),
    )


def cast_note(record: dict[str, Any]) -> str:
    """ "character ALICE, cast face:V1-002" for a cast take's BWF description ("" otherwise)."""
    timbre = record.get("settings", {}).get("timbre", {})
    if not isinstance(timbre, dict) or timbre.get("source") != "cast":
        return ""
    return f"character {timbre.get('character')}, cast {timbre.get('cast')}"
