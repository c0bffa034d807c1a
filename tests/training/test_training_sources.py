"""Several manifests train one model (`train --data A --data B:W`): weights repeat training
clips, every clip keeps its corpus, the detector's folds spread a one-speaker corpus by clip,
and the run's scores are also given per corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imagintalk_plugin.cli import main
from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus
from imagintalk_plugin.training.loops.corpus import Utterance
from imagintalk_plugin.training.semantic_stages import fold_groups
from imagintalk_plugin.training.training_data import (
    DataSource,
    load_semantic_corpus,
    parse_data_source,
    weighted_copies,
)


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A rendered corpus, and a second one of one speaker that reuses its media under other
    ids (as a real one-speaker corpus would sit beside the synthetic one)."""
    out = tmp_path_factory.mktemp("synth")
    first = drive(synth_corpus(CorpusSettings(out=out, utterances=14, seed=2, speakers=7, jobs=2)))
    second = tmp_path_factory.mktemp("other") / "real-one"
    second.mkdir()
    rows = [json.loads(line) for line in first.read_text().splitlines() if line.strip()]
    lines = []
    for index, row in enumerate(rows):
        row = {
            **row,
            "id": f"r{index:02d}",
            "speaker": "solo",
            "voice": None,
            "split": ("test", "valid", "train", "train")[index % 4],
            "video": str(out / row["video"]),
            "audio": str(out / row["audio"]),
        }
        lines.append(json.dumps(row))
    (second / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return first, second / "manifest.jsonl"


def test_data_sources_parse_paths_and_weights(tmp_path: Path) -> None:
    assert parse_data_source("a/manifest.jsonl") == DataSource(Path("a/manifest.jsonl"))
    assert parse_data_source("a/manifest.jsonl:2") == DataSource(Path("a/manifest.jsonl"), 2.0)
    assert parse_data_source("b:0.5").weight == 0.5
    odd = tmp_path / "x:3"  # a real path with a colon stays a path
    odd.write_text("")
    assert parse_data_source(str(odd)) == DataSource(odd)
    for bad in ("a.jsonl:0", "a.jsonl:-1", "a.jsonl:nan"):
        with pytest.raises(UsageError, match="positive"):
            parse_data_source(bad)
    assert DataSource(Path("/x/grid-s1/manifest.jsonl")).name == "grid-s1"


def test_weighted_copies_average_the_weight_and_repeat() -> None:
    copies = weighted_copies(2000, 1.5, seed=3)
    assert set(copies) == {1, 2}
    assert abs(np.mean(copies) - 1.5) < 0.05
    assert copies == weighted_copies(2000, 1.5, seed=3)
    assert weighted_copies(10, 3.0, seed=0) == [3] * 10
    assert 0 < sum(weighted_copies(1000, 0.25, seed=0)) < 400  # below 1: a seeded share left out


def test_two_manifests_load_with_weights_and_corpus_tags(two_corpora: tuple[Path, Path]) -> None:
    first, second = two_corpora
    plain = drive(load_semantic_corpus([first, second])).corpus
    heavy = drive(load_semantic_corpus([DataSource(first), DataSource(second, 3.0)])).corpus
    assert plain.corpora() == [first.parent.name, "real-one"]
    real_train = [u for u in plain.split("train") if u.corpus == "real-one"]
    heavy_train = [u for u in heavy.split("train") if u.corpus == "real-one"]
    assert len(heavy_train) == 3 * len(real_train) > 0
    assert len(heavy.split("test")) == len(plain.split("test"))  # held-out clips once
    same = [u for u in heavy_train if u.id == real_train[0].id]
    assert len(same) == 3
    assert all(u is same[0] for u in same)
    with pytest.raises(UsageError, match="share a folder name"):
        drive(load_semantic_corpus([first, first.parent / "manifest.jsonl"]))
    # each clip keeps its words' spans, which the Style-DiT's content audio is moved onto
    rows = {json.loads(line)["id"]: json.loads(line) for line in first.read_text().splitlines()}
    for utt in plain.split("train"):
        row = rows.get(utt.id)
        if row is not None:
            assert utt.word_times == tuple((w["start"], w["end"]) for w in row["words"])
            assert len(utt.word_times) == len(utt.words) > 0


def test_an_id_in_two_manifests_is_refused(two_corpora: tuple[Path, Path], tmp_path: Path) -> None:
    _first, second = two_corpora
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "manifest.jsonl").write_text(second.read_text())
    with pytest.raises(UsageError, match="r00' is in two manifests"):
        drive(load_semantic_corpus([second, clash / "manifest.jsonl"]))


def _utt(corpus: str, speaker: str, clip: str) -> Utterance:
    empty = np.zeros((1, 4, 4), np.uint8)
    return Utterance(clip, speaker, "train", empty, np.zeros(160, np.float32), corpus=corpus)


def test_folds_go_by_speaker_except_in_a_one_speaker_corpus() -> None:
    utts = [_utt("synth", s, f"{s}_{i}") for s in ("a", "b") for i in range(2)]
    utts += [_utt("grid", "s1", f"c{i}") for i in range(3)]
    utts.append(utts[-1])  # a weighted copy keeps its clip's group
    groups = fold_groups(utts)
    assert groups[:4] == ["a", "a", "b", "b"]
    assert len(set(groups[4:7])) == 3
    assert groups[7] == groups[6]


def test_training_on_two_corpora_scores_each(
    two_corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = two_corpora
    data = ["--data", str(first), "--data", f"{second}:2"]
    for stage in ("units", "aligner", "detector", "refiner"):
        args = ["train", stage, "--preset", "tiny", *data, "--out", str(tmp_path), "--quiet"]
        assert main(args) == 0, stage
    meta = json.loads((tmp_path / "aligner" / "config.json").read_text())["meta"]
    assert meta["data"] == f"{first} {second}:2"
    aligner_test = json.loads((tmp_path / "aligner" / "metrics.json").read_text())["test"]
    assert 0.0 <= aligner_test["test@real-one_unit_acc"] <= 1.0
    summary = json.loads((tmp_path / "metrics.json").read_text())
    for split in ("valid", "test"):
        for name in (first.parent.name, "real-one"):
            assert summary[f"{split}@{name}"]["clips"] >= 1
        parts = summary[f"{split}@{first.parent.name}"]["clips"]
        assert parts + summary[f"{split}@real-one"]["clips"] == summary[split]["clips"]
    with pytest.raises(SystemExit) as exit_info:  # argparse: one line, status 2
        main(["train", "units", "--data", f"{first}:0", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
