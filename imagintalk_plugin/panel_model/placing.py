"""Place: the chosen takes as Broadcast WAVs and a new timeline with them on a dialogue track.

What the panel's Place button writes (no Qt). Each take goes, cut or padded to its clip's
record length and delivered as `imagintalk dub` delivers (48 kHz, 24-bit), into
`<output stem>_dialogue/` with the same `.take.json` sidecar as `dub` writes; the new timeline
beside it has the takes spotted at their clips' record timecode. A take read back from a saved
session places exactly like a fresh one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imagintalk_plugin.core.clips import PlacedAudio
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.panel_model.state import ClipState, Take
from imagintalk_plugin.timeline.delivery import DELIVERY_RATE
from imagintalk_plugin.timeline.placement import (
    DIALOGUE_TRACK,
    place_dialogue,
)
from imagintalk_plugin.timeline.reading import LoadedTimeline
from imagintalk_plugin.timeline.writing import output_adapter, write_timeline


def place_takes(
    loaded: LoadedTimeline,
    chosen: Sequence[tuple[ClipState, Take]],
    output: Path,
    force: bool = False,
) -> tuple[str, list[PlacedAudio]]:
    """Write the chosen take of each clip and a new timeline `output` with them placed;
    returns a summary (one line, then one per take) and the placements."""
    if output.resolve() == loaded.path.resolve():
        raise UsageError(f"output '{output}' is the input timeline; it is never overwritten")
    output_adapter(output, force=force)
    from imagintalk_plugin.pipeline.take_files import take_path, take_record, write_take

    media_dir = output.parent / f"{output.stem}_dialogue"
    placements, lines = [], []
    for state, take in chosen:
        speech, clip = take.speech, state.ref
        wav = take_path(media_dir, clip, take.number)
        record = take_record(clip, take.number, speech.take, DELIVERY_RATE)
        placements.append(
            write_take(wav, clip, speech.waveform, record, model=speech.take.model, force=force)
        )
        mark = " (circled)" if take.circled else ""
        lines.append(f"  {clip.clip_id:8s} take {take.number}{mark}: {wav.name}")
    write_timeline(place_dialogue(loaded.timeline, placements), output, force=force)
    head = f"placed {len(placements)} take(s) on '{DIALOGUE_TRACK}' track(s): wrote {output}"
    return "\n".join([head, *lines]), placements
