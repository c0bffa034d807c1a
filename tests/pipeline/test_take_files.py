"""Where a dub's takes go: the version holding the same record is found again, a WAV without a
sidecar is never taken for ours, a gap left by a removed version is filled first."""

from __future__ import annotations

import json
from pathlib import Path

from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.pipeline.take_files import TakeSlot, find_slot, sidecar, take_path


def _clip() -> ClipRef:
    return ClipRef(
        clip_id="V1-001",
        name="take 3",
        track_name="V1",
        track_index=1,
        record_range=TimeRange(RationalTime(48, 24), RationalTime(72, 24)),
        source_range=TimeRange(RationalTime(100, 24), RationalTime(72, 24)),
        timeline_fps=24.0,
        timeline_start=RationalTime(86400, 24),
        drop_frame=False,
        media_path="/media/take3.mov",
        media_fps=24.0,
    )


def _made(folder: Path, version: int, record: dict | None) -> Path:
    wav = take_path(folder, _clip(), 1, version)
    wav.write_bytes(b"RIFF")
    if record is not None:
        sidecar(wav).write_text(json.dumps(record))
    return wav


def test_slots_reuse_their_record_and_never_take_a_foreign_file(tmp_path: Path) -> None:
    ours, other = {"seed": 0}, {"seed": 7}
    assert find_slot(tmp_path, _clip(), 1, ours, fresh=False).wav.name == "V1-001_take_3_take1.wav"
    foreign = _made(tmp_path, 1, None)  # the editor's own file of that name
    slot = find_slot(tmp_path, _clip(), 1, ours, fresh=False)
    assert (slot.wav.name, slot.reusable) == ("V1-001_take_3_take1_v2.wav", False)
    made = _made(tmp_path, 2, ours)
    assert find_slot(tmp_path, _clip(), 1, ours, fresh=False) == TakeSlot(made, True)
    assert find_slot(tmp_path, _clip(), 1, ours, fresh=True) == TakeSlot(made, False)
    assert find_slot(tmp_path, _clip(), 1, other, fresh=False).wav.name.endswith("_v3.wav")
    _made(tmp_path, 4, other)
    made.unlink()  # the sidecar stays: its record still names the slot, to be made again
    assert find_slot(tmp_path, _clip(), 1, ours, fresh=False) == TakeSlot(made, False)
    sidecar(made).unlink()  # a gap: filled before a new version is added
    assert find_slot(tmp_path, _clip(), 1, {"seed": 3}, fresh=False).wav == made
    assert foreign.read_bytes() == b"RIFF"
