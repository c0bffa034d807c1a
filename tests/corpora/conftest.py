"""Tiny corpora in each layout, written by the tests: short mp4 clips (H.264, AAC) cut from a
real GRID clip (a face) or plain gray (no face), with and without sound."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from corpus_media import FRAMES, tone, write_clip


@pytest.fixture(scope="session")
def face_frames(realdata: Path) -> list[np.ndarray]:
    """The first frames of a real GRID clip (speaker s1, frontal)."""
    source = realdata / "grid-s1" / "video" / "bbaf2n.mp4"
    if not source.is_file():
        pytest.skip(f"{source} not found: the face fixture is cut from it")
    with av.open(str(source)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == FRAMES:
                return frames
    raise AssertionError("short clip")


@pytest.fixture(scope="session")
def gray_frames() -> list[np.ndarray]:
    """A plain gray picture: no face anywhere."""
    return [np.full((288, 360, 3), 128, np.uint8)] * FRAMES


ALIGN = "0 5000 sil\n5000 6000 bin\n6000 7500 blue\n7500 8000 sp\n8000 9000 at\n9000 10000 sil\n"


@pytest.fixture(scope="session")
def grid_corpus(tmp_path_factory, face_frames, gray_frames) -> Path:
    """GRID in its original layout: s1, s2, s3 folders, `alignments/<speaker>/*.align`.

    s1/bbaf2n timed; s1/lrwp9a untimed (code); s2/bbaf2n timed (same code, other speaker);
    s2/pbai3p no audio track; s2/lgaz8s bad align file; s3/sbbh4a no face; s3/bgaa1a fine.
    """
    root = tmp_path_factory.mktemp("grid") / "GRID"
    sound = tone()
    for speaker, name in (("s1", "bbaf2n"), ("s1", "lrwp9a"), ("s2", "bbaf2n"), ("s3", "bgaa1a")):
        write_clip(root / speaker / f"{name}.mp4", face_frames, sound)
    write_clip(root / "s2" / "pbai3p.mp4", face_frames, None)
    write_clip(root / "s2" / "lgaz8s.mp4", face_frames, sound)
    write_clip(root / "s3" / "sbbh4a.mp4", gray_frames, sound)
    for speaker, name, text in (
        ("s1", "bbaf2n", ALIGN),
        ("s2", "bbaf2n", ALIGN.replace("blue", "green")),
        ("s2", "lgaz8s", "not an alignment\n"),
    ):
        path = root / "alignments" / speaker / f"{name}.align"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
