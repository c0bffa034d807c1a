"""`corpus import` on the real GRID clips in ../shared/realdata: the 900-clip speaker s1 folder
(`video/` + `align/`) and the six mixed-speaker clips of `video/GRID` (one `.align`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.corpora.grid import read_align, scan_grid, sentence_from_code
from imagintalk_plugin.timeline.bwf import read_wav

pytestmark = pytest.mark.realdata


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


@pytest.fixture(scope="module")
def grid_s1(realdata: Path) -> Path:
    folder = realdata / "grid-s1"
    if not (folder / "INDEX.tsv").is_file():
        pytest.skip(f"{folder} not found")
    return folder


def test_every_grid_s1_code_and_align_file_gives_its_transcript(grid_s1):
    rows = _rows(grid_s1 / "INDEX.tsv")
    assert len(rows) == 900
    for row in rows:
        assert sentence_from_code(row["id"]) == row["transcript"], row["id"]
        words = read_align(grid_s1 / row["align"])
        assert " ".join(w.label for w in words) == row["transcript"], row["id"]
    clips = scan_grid(grid_s1)
    assert len(clips) == 900
    assert {c.speaker for c in clips} == {"s1"}  # video/ is generic: grid-s1 names the speaker


def test_grid_s1_first_five_clips(grid_s1, tmp_path, capsys):
    out = tmp_path / "grid-s1"
    args = ["corpus", "import", str(grid_s1), "--layout", "grid", "--out", str(out)]
    assert main([*args, "--limit", "5", "--no-frontend", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("imported 5 of 5 clips")
    transcripts = {r["id"]: r["transcript"] for r in _rows(grid_s1 / "INDEX.tsv")}
    entries = read_manifest(out)
    assert [e.id for e in entries] == [f"s1_{i}" for i in sorted(transcripts)[:5]]
    for entry in entries:
        name = entry.id.removeprefix("s1_")
        assert entry.text == transcripts[name]
        assert entry.extra["words_timed"] is True
        assert 0 < entry.words[0].start < entry.words[-1].end < entry.duration == 3.0
        assert entry.video == grid_s1 / "video" / f"{name}.mp4"
        assert read_wav(entry.audio).sample_rate == 16000


def test_mixed_grid_folder_words_speakers_and_audio(realdata, grid_s1, tmp_path):
    folder = realdata / "video" / "GRID"
    transcripts = {
        Path(r["local_path"]).stem.split("_")[-1]: r["transcript"].split("  (")[0]
        for r in _rows(realdata / "INDEX.tsv")
        if r["local_path"].startswith("video/GRID/") and r["local_path"].endswith(".mpg")
    }
    speakers = tmp_path / "speakers.txt"
    speakers.write_text("bbaf2n s1\nswwp2s s2\n")
    out = tmp_path / "grid-unseen"
    args = ["corpus", "import", str(folder), "--layout", "grid", "--out", str(out)]
    assert main([*args, "--no-frontend", "--split", "test", "--speaker-map", str(speakers)]) == 0
    entries = {e.id: e for e in read_manifest(out)}
    assert len(entries) == 6
    assert {e.id.split("_")[-1]: e.text for e in entries.values()} == transcripts
    assert entries["s1_bbaf2n"].speaker == "s1"
    timed = entries["s2_swwp2s"]  # id2_vcd_swwp2s.mpg with swwp2s.align beside it
    assert timed.video.name == "id2_vcd_swwp2s.mpg"
    assert timed.words[0].label == "set"
    assert timed.words[0].start == pytest.approx(0.49)
    untimed = [e for e in entries.values() if e.id != "s2_swwp2s"]
    assert all(e.words == () and e.extra["words_timed"] is False for e in untimed)
    assert {e.split for e in entries.values()} == {"test"}
    assert json.loads((out / "import_report.json").read_text())["counts"]["words_untimed"] == 5
    # the MPEG-1 original and grid-s1's re-encoded mp4 give the same sound, in step
    mine = read_wav(entries["s1_bbaf2n"].audio).samples.astype(np.float64)
    s1 = tmp_path / "s1"
    assert main(["corpus", "import", str(grid_s1), "--layout", "grid", "--out", str(s1),
                 "--limit", "1", "--no-frontend", "--quiet"]) == 0  # fmt: skip
    theirs = read_wav(read_manifest(s1)[0].audio).samples.astype(np.float64)
    assert len(mine) == len(theirs) == 48000
    assert np.corrcoef(mine, theirs)[0, 1] > 0.95
    lags = [np.dot(mine[8000:40000], theirs[8000 + k : 40000 + k]) for k in range(-80, 81)]
    assert int(np.argmax(lags)) - 80 == 0
