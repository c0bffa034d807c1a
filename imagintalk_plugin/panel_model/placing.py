"""Place: the chosen takes as Broadcast WAVs and a new timeline with them on a dialogue track.

What the panel's Place button writes (no Qt). Each take goes, cut or padded to its clip's
record length and delivered as `imagintalk dub` delivers (48 kHz, 24-bit), into
`<output stem>_dialogue/` with the same `.take.json` sidecar as `dub` writes; the new timeline
beside it has the takes spotted at their clips' record timecode, each clip's on its
character's track (`ImaginTalk Dialogue - ALICE`), and keeps the clips' lines and characters and
the casts in its `metadata["imagintalk"]`, written as `dub` writes them (`adr.save_adr`). A take
read back from a saved session places exactly like a fresh one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from imagintalk_plugin.core.clips import PlacedAudio
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.panel_model.adr import save_adr
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
    *,
    lines: Mapping[str, str] | None = None,
    characters: Mapping[str, str] | None = None,
    casts: Mapping[str, str] | None = None,
) -> tuple[str, list[PlacedAudio]]:
    """Write the chosen take of each clip and a new timeline `output` with them placed;
    returns a summary (one line, then one per take) and the placements. `lines` and
    `characters` (by clip id) and `casts` (by character) go into its metadata; a clip's
    character names its dialogue track."""
    if output.resolve() == loaded.path.resolve():
        raise UsageError(f"output '{output}' is the input timeline; it is never overwritten")
    output_adapter(output, force=force)
    from imagintalk_plugin.pipeline.take_files import take_path, take_record, write_take

    media_dir = output.parent / f"{output.stem}_dialogue"
    placements, report = [], []
    for state, take in chosen:
        speech, clip = take.speech, state.ref
        character = (characters or {}).get(clip.clip_id)
        if character and character != clip.speaker:
            clip = replace(clip, speaker=character)  # its character's track, as `dub` does
        wav = take_path(media_dir, clip, take.number)
        record = take_record(clip, take.number, speech.take, DELIVERY_RATE)
        placements.append(
            write_take(wav, clip, speech.waveform, record, model=speech.take.model, force=force)
        )
        mark = " (circled)" if take.circled else ""
        report.append(f"  {clip.clip_id:8s} take {take.number}{mark}: {wav.name}")
    placed = place_dialogue(loaded.timeline, placements)
    save_adr(placed, lines or {}, characters or {}, casts or {})
    write_timeline(placed, output, force=force)
    head = f"placed {len(placements)} take(s) on '{DIALOGUE_TRACK}' track(s): wrote {output}"
    return "\n".join([head, *report]), placements
