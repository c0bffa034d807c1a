"""`imagintalk timeline place`: put given audio files under clips and write a new timeline.

Each WAV is re-written as a Broadcast WAV spotted at its clip's record timecode into a folder
beside the output timeline (`<output stem>_dialogue/`), then the timeline is written with the
files on `ImaginTalk Dialogue` tracks. The input timeline is never written; existing outputs
are refused without `force`; if anything fails, the files this run wrote are removed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imagintalk_plugin.core.clips import PlacedAudio
from imagintalk_plugin.core.errors import (
    UnknownClipError,
    UsageError,
)
from imagintalk_plugin.timeline.bwf import read_wav_info, rewrite_as_bwf
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.placement import place_dialogue, safe_name, timecode_samples
from imagintalk_plugin.timeline.reading import read_timeline
from imagintalk_plugin.timeline.relink import relink_timeline
from imagintalk_plugin.timeline.timecode import timecode, to_frames
from imagintalk_plugin.timeline.writing import output_adapter, write_timeline


def place_audio_files(
    timeline_path: str | Path,
    audio: dict[str, Path],
    output: str | Path,
    *,
    force: bool = False,
    rate: float | None = None,
    timeline_index: int = 0,
    media_dirs: Sequence[Path] = (),
) -> str:
    """Place `audio` (clip id -> WAV) under its clips; write `output`; return a summary.

    With `media_dirs`, offline picture clips are first relinked to media found there, so the
    written timeline links them (the summary starts with the relink line)."""
    timeline_path, output = Path(timeline_path), Path(output)
    if output.resolve() == timeline_path.resolve():
        raise UsageError(f"output '{output}' is the input timeline; it is never overwritten")
    output_adapter(output, force=force)
    loaded = read_timeline(timeline_path, rate=rate, timeline_index=timeline_index)
    relinked = ""
    if media_dirs:
        loaded, report = relink_timeline(loaded, media_dirs)
        relinked = report.summary() + "\n"
    clips = {clip.clip_id: clip for clip in list_clips(loaded)}
    for clip_id in audio:
        if clip_id not in clips:
            raise UnknownClipError(clip_id, list(clips))
    infos = {clip_id: read_wav_info(wav) for clip_id, wav in audio.items()}  # fail before writing
    media_dir = output.parent / f"{output.stem}_dialogue"
    written: list[Path] = []
    made_dir = not media_dir.exists()
    try:
        media_dir.mkdir(parents=True, exist_ok=True)
        placements = []
        for clip_id, wav in audio.items():
            clip, info = clips[clip_id], infos[clip_id]
            target = media_dir / f"{clip_id}_{safe_name(clip.name)}.wav"
            reference = timecode_samples(
                clip.record_range.start_time, clip.timeline_start, info.sample_rate
            )
            existed = target.exists()
            rewrite_as_bwf(
                wav,
                target,
                time_reference=reference,
                description=f"ImaginTalk dialogue for {clip.name} ({clip_id}) from {wav.name}",
                originator_reference=f"{clip_id} take 1",
                force=force,
            )
            if not existed:
                written.append(target)
            placements.append(
                PlacedAudio(clip, target.resolve(), clip.record_range, info.sample_rate)
            )
        placed = place_dialogue(loaded.timeline, placements)
        write_timeline(placed, output, force=force)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if made_dir and media_dir.exists() and not any(media_dir.iterdir()):
            media_dir.rmdir()
        raise
    origin = to_frames(loaded.start, loaded.rate)
    return relinked + _summary(loaded.drop_frame, origin, placements, output, media_dir)


def _summary(
    drop: bool, origin: int, placements: list[PlacedAudio], output: Path, media_dir: Path
) -> str:
    lines = [f"wrote {output} with {len(placements)} dialogue clip(s); audio in {media_dir}/"]
    for placed in placements:
        start = to_frames(placed.record_range.start_time, placed.clip.timeline_fps)
        tc = timecode(origin + start, placed.clip.timeline_fps, drop)
        lines.append(f"  {placed.clip.clip_id}  {tc}  {placed.audio_path.name}")
    return "\n".join(lines)
