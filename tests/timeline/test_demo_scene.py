"""The shipped demo scene: `clips.json` matches `demo.otio` clip for clip, every clip is silent
picture (the real GRID takes had their audio removed), and the real footage is attributed."""

from __future__ import annotations

import json

import av

from imagintalk_plugin.core.paths import demo_timeline
from imagintalk_plugin.timeline.clips import list_clips
from imagintalk_plugin.timeline.reading import read_timeline

DEMO = demo_timeline().parent


def test_clips_json_is_the_timeline_clip_for_clip_and_every_clip_is_silent() -> None:
    facts = json.loads((DEMO / "clips.json").read_text())
    clips = list_clips(read_timeline(demo_timeline()))
    assert [f["clip_id"] for f in facts] == [c.clip_id for c in clips]
    assert [f["source"] for f in facts] == ["synthetic"] * 3 + ["real"] * 2
    assert {f["speaker"] for f in facts if f["source"] == "real"} == {"s1"}
    assert len({f["text"] for f in facts}) == len(facts)
    for fact, clip in zip(facts, clips, strict=True):
        assert not clip.offline
        assert clip.media_path.endswith(fact["media"])
        with av.open(str(DEMO / fact["media"])) as container:
            assert not container.streams.audio, fact["media"]
            frames = sum(1 for _ in container.decode(video=0))
        assert frames == clip.record_range.duration.value  # 25 fps media, 25 fps timeline


def test_the_real_footage_is_attributed() -> None:
    readme = (DEMO / "README.md").read_text()
    for needed in ("GRID", "CC BY 4.0", "Cooke", "audio track was removed"):
        assert needed in readme
