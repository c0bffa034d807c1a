"""Build `resources/demo/`: a short scene of ImaginTalk-Synth clips by held-out speakers.

Usage: .venv/bin/python scripts/make_demo_timeline.py MANIFEST [--clips 3]

Takes test-split utterances (speakers never seen in training) of different speakers and
emotions from a synth manifest, copies their silent videos into `resources/demo/media/`, and
writes `resources/demo/demo.otio`: one video track at 25 fps starting 01:00:00:00, the clips
with gaps between them and media referenced by relative path, so the folder works anywhere.
`resources/demo/clips.json` keeps each clip's text, speaker and emotion (the ground truth).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

RATE = 25
GAP_FRAMES = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "resources/demo")
    args = parser.parse_args()
    entries = [json.loads(x) for x in args.manifest.read_text().splitlines() if x.strip()]
    chosen, speakers, emotions = [], set(), set()
    for entry in entries:
        if entry.get("split") != "test" or entry["speaker"] in speakers:
            continue
        if entry.get("emotion") in emotions and len(emotions) < 5:
            continue
        chosen.append(entry)
        speakers.add(entry["speaker"])
        emotions.add(entry.get("emotion"))
        if len(chosen) == args.clips:
            break
    media = args.out / "media"
    media.mkdir(parents=True, exist_ok=True)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    facts = []
    for index, entry in enumerate(chosen):
        source = args.manifest.parent / entry["video"]
        target = media / f"line{index + 1}_{entry['speaker']}.mp4"
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
