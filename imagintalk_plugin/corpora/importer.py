"""`imagintalk corpus import`: a real audio-visual corpus -> the manifest every trainer reads.

Writes into the output folder:
  audio/<id>.wav      16 kHz 16-bit mono, the clip's own speech, starting with its first frame
  video/<id>.<ext>    only with `copy_video`; otherwise the manifest names the source video in
                      place (a relative path, `..` and all)
  manifest.jsonl      one line per usable clip (see core/manifest.py): `voice` null, no
                      phonemes, emotion "neutral", `words_timed` saying whether `words` holds
                      the corpus's word timings (when false `words` is empty and only `text`
                      is known)
  import_report.json  counts, speakers, and every clip left out with the reason
Clips are taken in id order and split with a seed, so the same arguments give the same
manifest. Work already done is kept: audio already in the folder is reused (unless `force`)
and the front-end skips clips the lip-track cache holds, so an interrupted import continues
where it stopped. A finished import (one with a manifest) is only redone with `resume` (keep
what is there) or `force` (extract the audio again).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from imagintalk_plugin.core.errors import (
    CorpusSourceError,
    ImagintalkError,
    OutputExistsError,
    UsageError,
)
from imagintalk_plugin.core.files import atomic_path, exclusive_lock, remove_stale_temporaries
from imagintalk_plugin.core.manifest import ManifestEntry
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.corpora.audio import SAMPLE_RATE, clip_audio, write_clip_audio
from imagintalk_plugin.corpora.clips import SourceClip
from imagintalk_plugin.corpora.layouts import TEXT_SETS, read_speaker_map, scan_source
from imagintalk_plugin.corpora.report import ImportReport, Skipped
from imagintalk_plugin.corpora.splits import SplitPlan, assign_splits
from imagintalk_plugin.frontend.cache import LipTrackCache

LOCK_NAME = ".import.lock"


@dataclass(frozen=True)
class ImportSettings:
    """What `imagintalk corpus import` was asked for."""

    src: Path
    layout: str
    out: Path
    speaker: str | None = None  # every clip's speaker
    speaker_map: Path | None = None  # `CLIP SPEAKER` lines, for folders that mix speakers
    allow_untranscribed: bool = False  # keep clips without a transcript (text "")
    split: SplitPlan = field(default_factory=SplitPlan)
    limit: int | None = None  # only the first N clips (by id)
    jobs: int = 0  # front-end workers, 0 = one per core
    frontend: bool = True
    copy_video: bool = False
    force: bool = False
    resume: bool = False
    cache: LipTrackCache | None = None  # default: the user's lip-track cache


@dataclass(frozen=True)
class _Media:
    """A clip's files as the manifest names them, and its length."""

    video: Path
    audio: Path
    duration: float


def _prepare_output(settings: ImportSettings) -> None:
    """Refuse to overwrite a finished import unless asked; make the folders."""
    out = settings.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is not a folder")
    manifest = out / "manifest.jsonl"
    if manifest.exists() and not (settings.force or settings.resume):
        raise OutputExistsError(manifest, "--resume continues that import, --force redoes it")
    for sub in ("audio", "video") if settings.copy_video else ("audio",):
        (out / sub).mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out / sub)


def _copy_video(video: Path, dest: Path, force: bool) -> Path:
    """`video` copied to `dest` (kept when a copy of the same size is there)."""
    if force or not dest.is_file() or dest.stat().st_size != video.stat().st_size:
        with atomic_path(dest) as tmp:
            shutil.copyfile(video, tmp)
    return dest


def _media(clip: SourceClip, settings: ImportSettings) -> _Media:
    """Extract (or reuse) the clip's audio; copy the video if asked. `ImagintalkError` when
    the video or its sound cannot be used."""
    from imagintalk_plugin.frontend.video_probe import probe_video

    out = settings.out
    audio = out / "audio" / f"{clip.id}.wav"
    length = _reusable_audio(audio) if not settings.force else None
    if length is None:
        probe = probe_video(clip.video)
        samples = clip_audio(clip.video, probe.start_s, probe.duration_s)
        write_clip_audio(audio, samples, clip.video)
        length = len(samples)
    video = clip.video
    if settings.copy_video:
        copy = out / "video" / f"{clip.id}{video.suffix.lower()}"
        video = _copy_video(clip.video, copy, settings.force)
    return _Media(video, audio, length / SAMPLE_RATE)


def _reusable_audio(path: Path) -> int | None:
    """The length in samples of a WAV an earlier run wrote, or None when there is none."""
    from imagintalk_plugin.timeline.bwf import read_wav_info

    if not path.is_file():
        return None
    try:
        info = read_wav_info(path)
    except ImagintalkError:
        return None
    ok = info.sample_rate == SAMPLE_RATE and info.channels == 1 and info.num_frames > 0
    return info.num_frames if ok else None


def _entry(clip: SourceClip, media: _Media, layout: str, split: str) -> ManifestEntry:
    return ManifestEntry(
        id=clip.id,
        video=media.video,
        audio=media.audio,
        text=clip.text,
        text_set=TEXT_SETS[layout],
        words=clip.words,
        phonemes=(),
        speaker=clip.speaker,
        voice=None,
        emotion="neutral",
        split=split,
        duration=round(media.duration, 4),
        extra={"words_timed": clip.words_timed},
    )


def import_corpus(settings: ImportSettings) -> Job[ImportReport]:
    """Job: scan, extract audio, run the front-end, split, write manifest and report."""
    mapping = read_speaker_map(settings.speaker_map) if settings.speaker_map else None
    clips = scan_source(
        settings.src,
        settings.layout,
        speaker=settings.speaker,
        speaker_map=mapping,
        allow_untranscribed=settings.allow_untranscribed,
    )
    settings = replace(settings, out=settings.out.resolve())
    clips = [c for c in clips if not c.video.is_relative_to(settings.out)]  # our own copies
    if settings.limit is not None:
        clips = clips[: settings.limit]
    _prepare_output(settings)
    with exclusive_lock(settings.out / LOCK_NAME):
        report = yield from _run(clips, settings)
    return report


def _run(clips: list[SourceClip], settings: ImportSettings) -> Job[ImportReport]:
    skipped: list[Skipped] = []
    media: dict[str, _Media] = {}
    for index, clip in enumerate(clips):
        yield Progress("audio", index, len(clips), unit="clip")
        if clip.problem is not None:
            skipped.append(Skipped(clip.id, clip.video, clip.problem))
            continue
        try:
            media[clip.id] = _media(clip, settings)
        except ImagintalkError as error:
            skipped.append(Skipped(clip.id, clip.video, str(error)))
    yield Progress("audio", len(clips), len(clips), unit="clip")
    usable = [c for c in clips if c.problem is None and c.id in media]  # ids are unique here
    if settings.frontend:
        from imagintalk_plugin.corpora.frontend_pass import run_frontend

        cache = settings.cache if settings.cache is not None else LipTrackCache()
        todo = [(c.id, media[c.id].video) for c in usable]
        failed = yield from run_frontend(todo, cache, settings.jobs)
        skipped += [Skipped(c.id, c.video, failed[c.id]) for c in usable if c.id in failed]
        usable = [c for c in usable if c.id not in failed]
    splits, mode = assign_splits({c.id: c.speaker for c in usable}, settings.split)
    report = ImportReport(
        source=settings.src.resolve(),
        layout=settings.layout,
        out=settings.out,
        found=len(clips),
        split_mode=mode,
        frontend=settings.frontend,
        entries=[_entry(c, media[c.id], settings.layout, splits[c.id]) for c in usable],
        skipped=skipped,
    )
    written = report.write()
    if not report.entries:
        report.manifest.unlink(missing_ok=True)  # an earlier import's, now stale
        reason = skipped[0].reason if skipped else "no clips"
        raise CorpusSourceError(
            settings.src, f"none of its {len(clips)} clips can be used ({reason}; see {written})"
        )
    with atomic_path(report.manifest) as tmp:
        lines = (e.to_json(settings.out) + "\n" for e in report.entries)
        tmp.write_text("".join(lines), encoding="utf-8")
    return report
