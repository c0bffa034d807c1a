"""Build the demo scene (`imagintalk_plugin/data/demo/`): held-out clips, synthetic and real.

Usage: .venv/bin/python scripts/make_demo_timeline.py MANIFEST [--clips 3]
           [--real REAL_MANIFEST [--real-clips 2]] [--out DIR]

The shipped scene is built with
`make_demo_timeline.py data/synth-demo/manifest.jsonl --real data/grid-s1/manifest.jsonl`.

Takes test-split utterances (speakers never seen in training) of different speakers and
emotions from a synth manifest, copies their silent videos into `media/` of the demo folder
(default `imagintalk_plugin/data/demo/`, shipped as package data), and writes `demo.otio` there:
one video track at 25 fps starting 01:00:00:00, the clips with gaps between them and media
referenced by relative path, so the folder works anywhere.
With `--real`, the first `--real-clips` test-split clips of a real corpus (different
sentences; GRID speaker s1 for the shipped scene) follow on the same track: their video
stream is remuxed with PyAV without its audio track (no re-encode: the same packets, frames
and timing as the corpus's file), and each copy is checked to have no audio and every frame.
`clips.json` beside it keeps each clip's text, speaker, emotion and source
("synthetic" or "real"): the ground truth.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

DEMO = Path(__file__).resolve().parents[1] / "imagintalk_plugin" / "data" / "demo"

RATE = 25
GAP_FRAMES = 12
SYNTH_CORPUS = "ImaginTalk-Synth"
REAL_CORPUS = "GRID audio-visual sentence corpus (CC BY 4.0)"


def _read(manifest: Path) -> list[dict]:
    return [json.loads(x) for x in manifest.read_text().splitlines() if x.strip()]


def _synthetic(entries: list[dict], count: int) -> list[dict]:
    chosen, speakers, emotions = [], set(), set()
    for entry in entries:
        if entry.get("split") != "test" or entry["speaker"] in speakers:
            continue
        if entry.get("emotion") in emotions and len(emotions) < 5:
            continue
        chosen.append(entry)
        speakers.add(entry["speaker"])
        emotions.add(entry.get("emotion"))
        if len(chosen) == count:
            break
    return chosen


def _real(entries: list[dict], count: int) -> list[dict]:
    """The first `count` test-split clips, in manifest order, each with a sentence of its own."""
    chosen, texts = [], set()
    for entry in entries:
        if entry.get("split") != "test" or entry["text"] in texts:
            continue
        chosen.append(entry)
        texts.add(entry["text"])
        if len(chosen) == count:
            break
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} test-split clips with different sentences")
    return chosen


def _video_packets(path: Path) -> list[tuple]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (bytes(p), p.pts, p.dts, p.duration, p.is_keyframe)
            for p in container.demux(stream)
            if p.dts is not None
        ]


def _frames(path: Path) -> tuple[int, int, list[int]]:
    """(audio streams, decoded video frames, their pts) of a media file."""
    import av

    with av.open(str(path)) as container:
        pts = [frame.pts for frame in container.decode(video=0)]
        return len(container.streams.audio), len(pts), pts


def copy_video_only(source: Path, target: Path) -> int:
    """Remux `source`'s video stream, without re-encoding, into `target`, dropping its audio.

    Checks that `target` has no audio stream, the same packets (bytes and timestamps) and the
    same decoded frames at the same times as `source`; returns the frame count."""
    import av

    bitexact = {"fflags": "+bitexact"}  # no muxer version in the file: reproducible bytes
    with av.open(str(source)) as inp, av.open(str(target), "w", options=bitexact) as out:
        video = inp.streams.video[0]
        stream = out.add_stream_from_template(video)
        for packet in inp.demux(video):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = stream
            out.mux(packet)
    audio, frames, pts = _frames(target)
    if audio:
        raise SystemExit(f"{target}: {audio} audio stream(s) left")
    if _video_packets(target) != _video_packets(source):
        raise SystemExit(f"{target}: video packets differ from {source}'s")
    if (frames, pts) != _frames(source)[1:]:
        raise SystemExit(f"{target}: decoded frames differ from {source}'s")
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="synth corpus manifest")
    parser.add_argument("--clips", type=int, default=3, help="synthetic clips (default 3)")
    parser.add_argument("--real", type=Path, help="real corpus manifest (GRID s1 import)")
    parser.add_argument("--real-clips", type=int, default=2, help="real clips (default 2)")
    parser.add_argument("--out", type=Path, default=DEMO, help=f"default {DEMO}")
    args = parser.parse_args()
    chosen = [(e, args.manifest, "synthetic") for e in _synthetic(_read(args.manifest), args.clips)]
    if args.real is not None:
        chosen += [(e, args.real, "real") for e in _real(_read(args.real), args.real_clips)]
    media = args.out / "media"
    media.mkdir(parents=True, exist_ok=True)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    facts = []
    for index, (entry, manifest, kind) in enumerate(chosen):
        source = manifest.parent / entry["video"]
        target = media / f"line{index + 1}_{entry['speaker']}.mp4"
        if kind == "real":
            frames = copy_video_only(source, target)
            expected = round(float(entry["duration"]) * RATE)
            if frames != expected:
                raise SystemExit(f"{target}: {frames} frames, the manifest says {expected}")
            print(f"{entry['id']}: {target.name}, {frames} frames, no audio")
        else:
            shutil.copyfile(source, target)
            frames = round(float(entry["duration"]) * RATE) if "duration" in entry else None
        if frames is None:
            import av

            with av.open(str(source)) as container:
                frames = container.streams.video[0].frames
        gap = TimeRange(RationalTime(0, RATE), RationalTime(GAP_FRAMES, RATE))
        track.append(otio.schema.Gap(source_range=gap))
        clip = otio.schema.Clip(
            name=f"line {index + 1} ({entry['speaker']}, {entry.get('emotion', 'neutral')})",
            media_reference=otio.schema.ExternalReference(
                target_url=f"media/{target.name}",
                available_range=TimeRange(RationalTime(0, RATE), RationalTime(frames, RATE)),
            ),
            source_range=TimeRange(RationalTime(0, RATE), RationalTime(frames, RATE)),
        )
        clip.metadata["imagintalk"] = {"speaker": entry["speaker"]}
        track.append(clip)
        facts.append(
            {
                "clip_id": f"V1-{index + 1:03d}",
                "media": f"media/{target.name}",
                "source_id": entry["id"],
                "speaker": entry["speaker"],
                "emotion": entry.get("emotion"),
                "text": entry["text"],
                "source": kind,
                "corpus": SYNTH_CORPUS if kind == "synthetic" else REAL_CORPUS,
            }
        )
    timeline = otio.schema.Timeline(
        name="ImaginTalk demo", global_start_time=RationalTime.from_timecode("01:00:00:00", RATE)
    )
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(args.out / "demo.otio"))
    (args.out / "clips.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(f"wrote {args.out / 'demo.otio'} with {len(chosen)} clips")


if __name__ == "__main__":
    main()
