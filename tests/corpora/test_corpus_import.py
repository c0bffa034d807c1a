"""`imagintalk corpus import` end to end on a tiny GRID corpus: manifest, words, skips,
front-end, resume and refusal, same bytes for the same arguments."""

from __future__ import annotations

import json
import wave

import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import CancelledError
from imagintalk_plugin.core.manifest import read_manifest
from imagintalk_plugin.core.progress import CancelToken, drive
from imagintalk_plugin.corpora.importer import ImportSettings, import_corpus
from imagintalk_plugin.corpora.splits import SplitPlan

pytestmark = pytest.mark.realdata  # the face is cut from a real GRID clip


@pytest.fixture(scope="module")
def imported(grid_corpus, tmp_path_factory):
    """The GRID fixture imported with the front-end (one process), and its progress."""
    out = tmp_path_factory.mktemp("imported") / "grid"
    steps = []
    report = drive(import_corpus(ImportSettings(grid_corpus, "grid", out, jobs=1)), steps.append)
    return out, report, steps


def test_manifest_is_readable_with_words_speakers_and_media(imported, grid_corpus):
    out, _report, _ = imported
    entries = {e.id: e for e in read_manifest(out)}
    assert set(entries) == {"s1_bbaf2n", "s1_lrwp9a", "s2_bbaf2n", "s3_bgaa1a"}
    timed = entries["s1_bbaf2n"]
    assert [(w.label, w.start, w.end) for w in timed.words] == [
        ("bin", 0.2, 0.24),
        ("blue", 0.24, 0.3),
        ("at", 0.32, 0.36),
    ]
    assert timed.text == "bin blue at"
    assert timed.extra["words_timed"] is True
    assert entries["s2_bbaf2n"].text == "bin green at"  # its own speaker's .align
    untimed = entries["s1_lrwp9a"]
    assert untimed.text == "lay red with p nine again"
    assert untimed.words == ()
    assert untimed.extra["words_timed"] is False
    for entry in entries.values():
        assert entry.video.parent.parent == grid_corpus  # referenced in place
        assert entry.speaker == entry.id.split("_")[0]
        assert (entry.voice, entry.phonemes, entry.emotion) == (None, (), "neutral")
        assert entry.text_set == "grid"
        with wave.open(str(entry.audio)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() == round(entry.duration * 16000)
        assert entry.duration == pytest.approx(0.4, abs=0.05)
    line = (out / "manifest.jsonl").read_text().splitlines()[0]
    assert json.loads(line)["video"].startswith("../")


def test_unusable_clips_are_reported_with_their_reasons(imported):
    out, report, _ = imported
    body = json.loads((out / "import_report.json").read_text())
    reasons = {s["id"]: s["reason"] for s in body["skipped"]}
    assert set(reasons) == {"s2_pbai3p", "s2_lgaz8s", "s3_sbbh4a"}
    assert "no audio track" in reasons["s2_pbai3p"]
    assert "bad align file" in reasons["s2_lgaz8s"]
    assert "no face" in reasons["s3_sbbh4a"]
    assert body["counts"]["found"] == 7
    assert body["counts"]["imported"] == 4
    assert body["counts"]["words_untimed"] == 2  # lrwp9a and bgaa1a have no .align
    assert body["split"] == "speaker"
    assert report.summary().startswith("imported 4 of 7 clips")


def test_front_end_filled_the_cache_once(imported, grid_corpus):
    out, _, steps = imported
    front = [s for s in steps if s.stage == "front-end"]
    assert front[0].total == 5  # the five clips with usable audio
    steps = []
    settings = ImportSettings(grid_corpus, "grid", out, jobs=1, resume=True)
    drive(import_corpus(settings), steps.append)
    again = [s for s in steps if s.stage == "front-end"]
    assert again[0].total == 1  # only the faceless clip is tried again (no track is cached)


def test_finished_import_is_refused_without_force_or_resume(imported, grid_corpus, capsys):
    out, _, _ = imported
    before = (out / "manifest.jsonl").read_bytes()
    code = main(["corpus", "import", str(grid_corpus), "--layout", "grid", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imagintalk: error: output")
    assert "--resume" in err
    assert "\n" not in err
    assert (out / "manifest.jsonl").read_bytes() == before


def test_resume_keeps_audio_and_gives_the_same_manifest(imported, grid_corpus):
    out, _, _ = imported
    before = (out / "manifest.jsonl").read_bytes()
    audio = out / "audio" / "s1_bbaf2n.wav"
    stamp = audio.stat().st_mtime_ns
    drive(import_corpus(ImportSettings(grid_corpus, "grid", out, jobs=1, resume=True)))
    assert audio.stat().st_mtime_ns == stamp
    assert (out / "manifest.jsonl").read_bytes() == before
    assert not (out / ".import.lock").exists()


def test_same_arguments_same_bytes_and_the_seed_moves_the_split(grid_corpus, tmp_path):
    def run(out, seed):
        plan = SplitPlan("clip", seed, test_clips=1, valid_clips=1)
        settings = ImportSettings(grid_corpus, "grid", out, split=plan, frontend=False)
        drive(import_corpus(settings))
        return (out / "manifest.jsonl").read_bytes(), (out / "import_report.json").read_bytes()

    first = run(tmp_path / "a", 0)
    assert run(tmp_path / "b", 0) == first
    splits = {}
    for seed in range(4):
        run(tmp_path / f"s{seed}", seed)
        splits[seed] = [e.split for e in read_manifest(tmp_path / f"s{seed}")]
    assert len({tuple(s) for s in splits.values()}) > 1
    assert all(s.count("test") == 1 and s.count("valid") == 1 for s in splits.values())


def test_an_interrupted_import_continues_where_it_stopped(grid_corpus, tmp_path):
    out = tmp_path / "out"
    cancel = CancelToken()

    def stop_after_two(step):
        if step.stage == "audio" and step.done == 2:
            cancel.cancel()

    settings = ImportSettings(grid_corpus, "grid", out, frontend=False)
    with pytest.raises(CancelledError):
        drive(import_corpus(settings), stop_after_two, cancel)
    assert not (out / "manifest.jsonl").exists()
    assert not (out / ".import.lock").exists()
    done = sorted(p.name for p in (out / "audio").iterdir())
    assert len(done) == 2
    stamps = {name: (out / "audio" / name).stat().st_mtime_ns for name in done}
    drive(import_corpus(settings))  # no --resume needed: there is no manifest yet
    assert {n: (out / "audio" / n).stat().st_mtime_ns for n in done} == stamps
    assert len(read_manifest(out)) == 5  # the faceless clip stays in without the front-end


def test_copy_video_puts_the_videos_in_the_corpus(grid_corpus, tmp_path):
    out = tmp_path / "copied"
    settings = ImportSettings(grid_corpus, "grid", out, frontend=False, copy_video=True, limit=2)
    drive(import_corpus(settings))
    for entry in read_manifest(out):
        assert entry.video == out / "video" / f"{entry.id}.mp4"
    assert '"video": "video/' in (out / "manifest.jsonl").read_text()


def test_speaker_option_and_map_name_the_speakers(grid_corpus, tmp_path):
    settings = ImportSettings(grid_corpus, "grid", tmp_path / "one", frontend=False, speaker="x")
    drive(import_corpus(settings))
    ids = [e.id for e in read_manifest(tmp_path / "one")]
    assert "x_bbaf2n" in ids  # the second bbaf2n is now a duplicate id ...
    body = json.loads((tmp_path / "one" / "import_report.json").read_text())
    assert any("already taken" in s["reason"] for s in body["skipped"])  # ... and is reported
    mapping = tmp_path / "speakers.txt"
    mapping.write_text("# clip speaker\nlrwp9a anna\ns3_bgaa1a bob\n")
    out = tmp_path / "mapped"
    settings = ImportSettings(grid_corpus, "grid", out, speaker_map=mapping, frontend=False)
    drive(import_corpus(settings))
    speakers = {e.id: e.speaker for e in read_manifest(out)}
    assert speakers["anna_lrwp9a"] == "anna"
    assert speakers["bob_bgaa1a"] == "bob"
    assert speakers["s1_bbaf2n"] == "s1"


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_a_bad_source_is_one_line_and_exit_2(tmp_path, capsys, make):
    src = tmp_path / "src"
    if make == "empty":
        src.mkdir()
        (src / "notes.txt").write_text("no videos here")
    elif make == "file":
        src.write_text("not a folder")
    code = main(["corpus", "import", str(src), "--layout", "lrs3", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"imagintalk: error: cannot import corpus '{src}'")
    assert "\n" not in err
    assert not (tmp_path / "o").exists()
