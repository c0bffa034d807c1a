"""Reading each layout: GRID codes and .align files, LRS3/LRS2 transcripts, plain folders,
speaker maps; the seeded splits."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from corpus_media import tone, write_clip

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.corpora.grid import read_align, sentence_from_code
from imagintalk_plugin.corpora.importer import ImportSettings, import_corpus
from imagintalk_plugin.corpora.layouts import read_speaker_map
from imagintalk_plugin.corpora.lrs import read_lrs_transcript
from imagintalk_plugin.corpora.splits import SplitPlan, assign_splits, split_by_clip

FRAMES = [np.full((64, 64, 3), 90, np.uint8)] * 5  # the front-end is not run here

LRS3 = """Text:  WHEN YOU'RE FACING
Conf:  3

WORD START END ASDSCORE
WHEN 0.53 0.68 3.6
YOU'RE 0.68 0.83 4.8
FACING 0.83 1.24 6.1
"""


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        ("bbaf2n", "bin blue at f two now"),
        ("swwp2s", "set white with p two soon"),
        ("lgiz1a", "lay green in z one again"),
        ("prbxzp", "place red by x zero please"),
    ],
)
def test_grid_code_gives_the_sentence(code, sentence):
    assert sentence_from_code(code) == sentence


@pytest.mark.parametrize("code", ["bbaf2", "xbaf2n", "bbaw2n", "bbaf2x", "readme"])
def test_not_a_grid_code(code):
    assert sentence_from_code(code) is None


def test_align_file_in_seconds_without_silences(tmp_path):
    path = tmp_path / "a.align"
    path.write_text("0 12250 sil\n12250 19250 set\n19250 27250 sp\n27250 30500 with\n")
    words = read_align(path)
    assert [(w.label, w.start, w.end) for w in words] == [("set", 0.49, 0.77), ("with", 1.09, 1.22)]
    for bad in ("0 100\n", "100 50 bin\n", "0 100 sil\n", "", "10 20 a\n0 5 b\n"):
        path.write_text(bad)
        with pytest.raises(ValueError, match=r"line|no words"):
            read_align(path)


def test_lrs3_and_lrs2_transcripts(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(LRS3)
    text, words = read_lrs_transcript(path)
    assert text == "when you're facing"
    assert [(w.label, w.start, w.end) for w in words][1] == ("you're", 0.68, 0.83)
    path.write_text("Text:  IT IS\nConf:  2\n")  # LRS2: no word table
    assert read_lrs_transcript(path) == ("it is", ())
    for bad in ("Conf: 3\n", "Text:   \n", LRS3.replace("0.68 0.83", "zero 0.83")):
        path.write_text(bad)
        with pytest.raises(ValueError, match=r"Text|line"):
            read_lrs_transcript(path)


def test_lrs3_layout_imports_speakers_words_and_skips(tmp_path):
    root = tmp_path / "lrs3" / "trainval"
    for speaker, clip, transcript in (
        ("0Fi83BHQsMA", "00001", LRS3),
        ("0Fi83BHQsMA", "00002", "Text:  HELLO THERE\nConf:  4\n"),
        ("a_b-c", "00001", LRS3),
        ("a_b-c", "00003", "no text line\n"),
    ):
        write_clip(root / speaker / f"{clip}.mp4", FRAMES, tone(0.2))
        (root / speaker / f"{clip}.txt").write_text(transcript)
    out = tmp_path / "out"
    report = drive(import_corpus(ImportSettings(root.parent, "lrs3", out, frontend=False)))
    entries = {e.id: e for e in read_manifest(out)}
    assert set(entries) == {"0Fi83BHQsMA_00001", "0Fi83BHQsMA_00002", "a_b-c_00001"}
    assert entries["a_b-c_00001"].speaker == "a_b-c"
    assert entries["0Fi83BHQsMA_00001"].words[0].start == 0.53
    assert entries["0Fi83BHQsMA_00002"].extra["words_timed"] is False
    assert {e.text_set for e in entries.values()} == {"free"}
    assert report.split_mode == "speaker"
    assert [s.id for s in report.skipped] == ["a_b-c_00003"]
    assert "no 'Text:' line" in report.skipped[0].reason


def test_folder_layout_speakers_sibling_audio_and_bad_transcripts(tmp_path):
    root = tmp_path / "takes"
    write_clip(root / "one.mp4", FRAMES, tone(0.2))
    (root / "one.txt").write_text("  Hello,   World \n")
    write_clip(root / "silent.mp4", FRAMES, None)  # its sound is a sibling WAV
    (root / "silent.txt").write_text("from the wav")
    from imagintalk_plugin.corpora.audio import write_clip_audio

    write_clip_audio(root / "silent.wav", tone(0.2, 330.0), root / "silent.mp4")
    write_clip(root / "empty.mp4", FRAMES, tone(0.2))
    (root / "empty.txt").write_text("   \n")
    write_clip(root / "mute.mp4", FRAMES, np.zeros(3200, np.float32))
    (root / "mute.txt").write_text("nothing heard")
    write_clip(root / "bob" / "two.mp4", FRAMES, tone(0.2))
    (root / "bob" / "two.txt").write_text("bob speaks")
    write_clip(root / "bob" / "three.mp4", FRAMES, tone(0.2))  # no transcript
    out = tmp_path / "out"
    report = drive(import_corpus(ImportSettings(root, "folder", out, frontend=False)))
    entries = {e.id: e for e in read_manifest(out)}
    assert set(entries) == {"takes_one", "takes_silent", "bob_two"}
    assert entries["takes_one"].text == "hello, world"
    assert entries["takes_one"].words == ()
    reasons = {s.id: s.reason for s in report.skipped}
    assert "empty transcript" in reasons["takes_empty"]
    assert "silent" in reasons["takes_mute"]
    assert "no transcript" in reasons["bob_three"]
    named = tmp_path / "named"
    drive(import_corpus(ImportSettings(root, "folder", named, frontend=False, speaker="ann")))
    assert {e.speaker for e in read_manifest(named)} == {"ann"}
    loose = tmp_path / "loose"  # VoxCeleb2-like: no transcripts, kept with empty text
    settings = ImportSettings(root, "folder", loose, frontend=False, allow_untranscribed=True)
    report = drive(import_corpus(settings))
    assert {e.id: e.text for e in read_manifest(loose)}["bob_three"] == ""
    assert report.counts()["untranscribed"] == 1
    assert "takes_empty" in {s.id for s in report.skipped}  # an empty file is still bad


def test_speaker_map_file(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("bbaf2n s1  # same recording as grid-s1\n\nswwp2s s2\n")
    assert read_speaker_map(path) == {"bbaf2n": "s1", "swwp2s": "s2"}
    path.write_text("bbaf2n\n")
    with pytest.raises(UsageError, match="line 1"):
        read_speaker_map(path)


def test_clip_split_counts_shares_and_seed():
    ids = [f"c{i:03d}" for i in range(300)]
    split = split_by_clip(ids, SplitPlan("clip", 0, 100, 60))
    assert Counter(split.values()) == {"train": 140, "test": 100, "valid": 60}
    assert split_by_clip(list(reversed(ids)), SplitPlan("clip", 0, 100, 60)) == split
    assert split_by_clip(ids, SplitPlan("clip", 1, 100, 60)) != split
    shares = split_by_clip(ids, SplitPlan("clip", 0, 0.1, 0.05))
    assert Counter(shares.values()) == {"train": 255, "test": 30, "valid": 15}
    small = split_by_clip(ids[:5], SplitPlan("clip", 0, 100, 60))
    assert Counter(small.values()) == {"test": 5}


def test_speaker_split_holds_out_whole_speakers():
    speakers = {f"s{s}_{i:02d}": f"s{s}" for s in range(12) for i in range(25)}
    split, mode = assign_splits(speakers, SplitPlan())
    assert mode == "speaker"
    held = {speakers[i] for i, s in split.items() if s == "test"}
    assert len(held) == 2
    assert all(split[i] == "test" for i, s in speakers.items() if s in held)
    assert Counter(split.values())["valid"] == round(250 * 0.08)
    _, mode = assign_splits({"a": "x", "b": "x"}, SplitPlan())
    assert mode == "clip"
    every, mode = assign_splits(speakers, SplitPlan("test"))
    assert (mode, set(every.values())) == ("test", {"test"})


def test_report_lists_counts_per_speaker(tmp_path):
    root = tmp_path / "grid-s7" / "video"
    for name in ("bbaf2n", "lrwp9a"):
        write_clip(root / f"{name}.mp4", FRAMES, tone(0.2))
    out = tmp_path / "out"
    drive(import_corpus(ImportSettings(root.parent, "grid", out, frontend=False)))
    body = json.loads((out / "import_report.json").read_text())
    assert body["speakers"] == {"s7": {"train": 0, "valid": 0, "test": 2}}  # grid-s7 -> s7
    assert body["counts"]["words_untimed"] == 2
