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

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.pipeline.speech import TakeInfo
from imagintalk_plugin.timeline.placement import safe_name

MAX_VERSIONS = 999


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


def take_record(clip: ClipRef, take: int, info: TakeInfo) -> dict[str, Any]:
    """JSON-ready metadata of one take, compared on resume."""
    return {"clip_id": clip.clip_id, "take": take, **asdict(info)}


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
    `fresh`), else the first version whose name is free. Versions are looked at in order."""
    free: Path | None = None
    for version in range(1, MAX_VERSIONS + 1):
        wav = take_path(media_dir, clip, take, version)
        taken = wav.exists() or sidecar(wav).exists()
        if not taken:
            free = free or wav
            if version > 1 and not _any_later(media_dir, clip, take, version):
                break
            continue
        if read_record(wav) == record:
            return TakeSlot(wav, wav.exists() and not fresh)
    if free is None:
        raise OSError(f"over {MAX_VERSIONS} versions of {take_path(media_dir, clip, take).name}")
    return TakeSlot(free, False)


def _any_later(media_dir: Path, clip: ClipRef, take: int, version: int) -> bool:
    """Whether a version after `version` exists (a gap left by a removed file)."""
    stem = take_path(media_dir, clip, take).stem
    pattern = re.compile(rf"{re.escape(stem)}_v(\d+)\.(wav|take\.json)$")
    return any(
        int(m.group(1)) > version
        for p in media_dir.glob(f"{stem}_v*")
        if (m := pattern.match(p.name)) is not None
    )
