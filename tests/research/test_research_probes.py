"""Smoke tests of the research probes (research/*.py) and of the release tool
scripts/fit_voice_rule.py.

Each runs end to end as `python <script> ...` from the repository root, on a tiny rendered
ImaginTalk-Synth corpus (4 speakers, 2 neutral clips each, two of them made test speakers) and
the tests' tiny random checkpoint, and its output is checked, not only its exit status. The
figures mean nothing (random weights, two clips per speaker): the tests prove that the probes
still run on today's code and say what their docstrings promise.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
RESEARCH = REPO / "research"
FIT_VOICE_RULE = REPO / "scripts" / "fit_voice_rule.py"
PROBES = (
    "face_voice_ceiling",
    "identity_ceiling",
    "identity_swap",
    "lip_reader_agreement",
    "reference_voice_pipeline",
    "refiner_diagnosis",
    "regression_decoder",
    "unit_phone_information",
)
HELPERS = ("dit_probe",)  # modules the probes share, nothing to run
TEST_SPEAKERS = ("s000", "s001")
TRAIN_SPEAKERS = ("s002", "s003")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Its manifest: 8 neutral clips (s000_00000 .. s003_00007, two per speaker), s000 and s001
    test speakers, s002 and s003 training speakers (no validation clips)."""
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus

    out = tmp_path_factory.mktemp("probe_corpus")
    settings = CorpusSettings(
        out=out, utterances=8, seed=2, speakers=4, jobs=2, emotions=("neutral",)
    )
    manifest = drive(synth_corpus(settings))
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    for row in rows:  # the planner holds out one speaker of four; the probes want two
        row["split"] = "test" if row["speaker"] in TEST_SPEAKERS else "train"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def run(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder as `imagintalk train` leaves it, as far as the probes read it: the tiny
    checkpoint (with dit_voice/), stage metas naming their preset, refiner_lm/, and the
    detector's out-of-fold predictions of the training clips."""
    from tiny_checkpoint import write_tiny_checkpoint

    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.pipeline.semantic_models import load_models
    from imagintalk_plugin.training.loops.aligner_training import predict_clips
    from imagintalk_plugin.training.loops.predictions_io import save_predictions
    from imagintalk_plugin.training.training_data import load_semantic_corpus

    folder = write_tiny_checkpoint(tmp_path_factory.mktemp("probe_run"), dit_voice=True)
    for stage in ("aligner", "dit", "dit_voice"):
        path = folder / stage / "config.json"
        document = json.loads(path.read_text())
        document["meta"]["preset"] = "tiny"
        path.write_text(json.dumps(document))
    shutil.copytree(folder / "refiner", folder / "refiner_lm")
    train = drive(load_semantic_corpus(corpus)).corpus.split("train")  # also warms the cache
    aligner = load_models(folder, device="cpu").aligner
    predictions = predict_clips(aligner, [u.lip for u in train])
    save_predictions(folder / "detector" / "oof.safetensors", [u.id for u in train], predictions)
    return folder


def _run(script: Path, *args: object, status: int = 0) -> subprocess.CompletedProcess[str]:
    """`python script args` from the repository root, as the README says to run it."""
    result = subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ,  # the tests' private clip cache, warmed by the fixtures
        check=False,
    )
    assert result.returncode == status, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def _similarity(value: float) -> float:
    assert math.isfinite(value)
    assert -1.0 <= value <= 1.0
    return value


def _scores(text: str) -> dict[str, float]:
    """'true 0.866, rule, clip face 0.876, ...' -> {name: value} (names may hold ', ')."""
    return {m[1]: float(m[2]) for m in re.finditer(r"([a-z][a-z ,+]*?) (-?\d+\.\d+)(?:, |$)", text)}


def test_the_readme_says_what_each_probe_measures_and_what_was_dropped() -> None:
    readme = (RESEARCH / "README.md").read_text(encoding="utf-8")
    scripts = {p.stem for p in RESEARCH.glob("*.py")}
    assert scripts == set(PROBES) | set(HELPERS)  # a new probe comes with a smoke test here
    for name in PROBES:
        assert f"## {name}.py" in readme, name
        assert f"python research/{name}.py" in readme, name
    assert "## Dropped" in readme
    assert "refiner_dev_speakers.py" in readme
    assert "scripts/fit_voice_rule.py" in readme


@pytest.mark.parametrize(
    "script", [*(RESEARCH / f"{n}.py" for n in PROBES), FIT_VOICE_RULE], ids=lambda p: p.name
)
def test_help_prints_the_whole_docstring(
    script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(script.parent))  # as `python script` puts it first
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    assert doc is not None
    assert doc.splitlines()[0] in out
    if script.parent == RESEARCH:  # every probe says what it measures, reads and writes
        for part in ("Measures", "Inputs:", "Output"):
            assert part in out, part


@pytest.mark.slow
def test_identity_ceiling(run: Path, corpus: Path) -> None:
    out = _run(RESEARCH / "identity_ceiling.py", run, "--data", corpus, "--per-speaker", 2)
    rows = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert set(rows) == {*TEST_SPEAKERS, "all"}
    scores = {name: ast.literal_eval(row) for name, row in rows.items()}
    for row in scores.values():
        assert set(row) == {"face", "voice"}
        for value in row.values():
            _similarity(value)
    for path in ("face", "voice"):  # two clips per speaker: the mean of the speakers' means
        mean = np.mean([scores[s][path] for s in TEST_SPEAKERS])
        assert scores["all"][path] == pytest.approx(mean, abs=0.0015)


@pytest.mark.slow
def test_identity_swap(run: Path, corpus: Path) -> None:
    out = _run(RESEARCH / "identity_swap.py", run, "--data", corpus, "--per-speaker", 1)
    header, *rows, follow = out.stdout.splitlines()
    assert header.split()[-2:] == list(TEST_SPEAKERS)
    assert [r.split()[0] for r in rows] == list(TEST_SPEAKERS)
    for row in rows:
        cells = [float(x) for x in row.split()[1:]]
        assert len(cells) == len(TEST_SPEAKERS)
        for cell in cells:
            _similarity(cell)
    match = re.fullmatch(r"follow: ([+-]\d\.\d{3})", follow)
    assert match, follow
    assert abs(float(match[1])) <= 2.0


@pytest.mark.slow
def test_refiner_diagnosis(run: Path, corpus: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "diagnosis.json"
    out = _run(RESEARCH / "refiner_diagnosis.py", run, "--data", corpus, "--json", report_path)
    report = json.loads(report_path.read_text())
    assert list(report) == ["train_oof", "test"]  # the corpus has no validation clips
    figures = {
        "top1",
        "top5",
        "top20",
        "lm_clean_acc",
        "before",
        "refiner_calibrated_after",
        "refiner_preset_after",
        "lm_fused_after",
    }
    for row in report.values():
        assert set(row) == figures
        assert all(0.0 <= v <= 1.0 for v in row.values()), row
        assert row["top1"] <= row["top5"] <= row["top20"]
    header, *lines = out.stdout.splitlines()
    assert header.split()[1:] == list(report["test"])
    assert [line.split()[0] for line in lines] == list(report)


@pytest.mark.slow
def test_face_voice_ceiling(run: Path, corpus: Path, tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    for clip in ("s000_00000", "s001_00001"):  # each test speaker's first clip: its recording
        shutil.copy(corpus.parent / "audio" / f"{clip}.wav", takes)
    args = ("--data", corpus, "--per-speaker", 1, "--checkpoint", run, "--generated", takes)
    out = _run(RESEARCH / "face_voice_ceiling.py", *args)
    *speakers, mean = out.stdout.splitlines()
    assert [line.split()[0] for line in speakers] == list(TEST_SPEAKERS)
    assert mean.startswith("mean: ")
    expected = {
        "true",
        "rule, clip face",
        "rule, speaker face",
        "generated",
        "clip variant right",
    }
    expected |= {f"{name} + codec" for name in ("true", "rule, clip face", "rule, speaker face")}
    for line in (*speakers, mean):
        scored = _scores(line.split(": ", 1)[1])
        assert set(scored) == expected, scored
        for value in scored.values():
            _similarity(value)
        assert 0.0 <= scored["clip variant right"] <= 1.0
        # the takes are the corpus's own recordings, and the true voice's version says the
        # same words through espeak-ng as the corpus did: they score alike
        assert scored["generated"] == pytest.approx(scored["true"], abs=0.002)


@pytest.mark.slow
def test_face_voice_ceiling_names_a_missing_take(corpus: Path, tmp_path: Path) -> None:
    out = _run(
        RESEARCH / "face_voice_ceiling.py",
        *("--data", corpus, "--per-speaker", 1, "--generated", tmp_path),
        status=2,
    )
    assert "2 take(s) missing" in out.stderr
    assert "s000_00000.wav" in out.stderr


@pytest.mark.slow
def test_reference_voice_pipeline(run: Path, corpus: Path, tmp_path: Path) -> None:
    takes = tmp_path / "ref"
    out = _run(RESEARCH / "reference_voice_pipeline.py", run, "--data", corpus, "--out", takes)
    for speaker, reference in zip(TEST_SPEAKERS, ("s000_00000", "s001_00001"), strict=True):
        assert f"{speaker}: reference {reference}" in out.stdout
    # each test speaker's first neutral clip is its reference; the others are voiced
    assert sorted(p.name for p in takes.iterdir()) == ["s000_00004.wav", "s001_00005.wav"]
    report = json.loads(takes.with_suffix(".json").read_text())
    assert report["judged"] == 2
    assert report["missing"]["count"] == 0
    _similarity(report["means"]["speaker_sim"])
    assert report["summary"]["speakers"] == 2
    leftovers = sorted(p.name for p in corpus.parent.glob("*_reference_voice*.jsonl"))
    assert leftovers == []  # its temporary manifests are gone


@pytest.mark.slow
def test_fit_voice_rule(corpus: Path, tmp_path: Path) -> None:
    from imagintalk_plugin.synth.rendered_voice_rule import RULE_FILE, ProjectionRule
    from imagintalk_plugin.synth.voices import VARIANTS

    shipped = RULE_FILE.read_bytes()
    rule_path = tmp_path / "rule.json"
    out = _run(FIT_VOICE_RULE, "--data", corpus, "--out", rule_path)
    document = json.loads(rule_path.read_text())
    assert document["fitted_on"] == str(corpus)
    assert document["training_speakers"] == len(TRAIN_SPEAKERS)
    assert document["training_clips"] == 4
    rule = ProjectionRule.load(rule_path)
    assert rule.project(np.zeros(128)).shape == (3 + len(VARIANTS),)
    lines = out.stdout.splitlines()
    assert lines[0] == f"wrote {rule_path} (2 speakers)"
    pattern = r"(rendered|still) rule, (train|test) speakers: one clip gives its speaker's "
    pattern += r"variant (\d\.\d{3}); variants used (\d)"
    found = [re.fullmatch(pattern, line) for line in lines[1:]]
    assert all(found), lines
    assert [(m[1], m[2]) for m in found if m] == [
        ("rendered", "train"),
        ("rendered", "test"),
        ("still", "train"),
        ("still", "test"),
    ]
    before = rule_path.read_bytes()
    refused = _run(FIT_VOICE_RULE, "--data", corpus, "--out", rule_path, status=1)
    assert "exists (use --force to replace it)" in refused.stderr
    assert rule_path.read_bytes() == before
    assert RULE_FILE.read_bytes() == shipped  # the shipped rule is never touched


@pytest.mark.parametrize("labels", [[], ["--even-phones"]], ids=["phonemes", "even"])
def test_unit_phone_information(run: Path, corpus: Path, labels: list[str]) -> None:
    """With --even-phones the words' timings give the spans (as for real GRID clips)."""
    probe = RESEARCH / "unit_phone_information.py"
    out = _run(probe, run, "--data", corpus, "--clips", 4, *labels)
    match = re.fullmatch(
        r"(\S+): frames (\d+), phones (\d+), information (\d\.\d+), purity (\d\.\d+)\n",
        out.stdout,
    )
    assert match, out.stdout
    assert match[1] == corpus.parent.name
    assert int(match[2]) > 50  # four clips' labelled frames
    assert int(match[3]) > 5  # and their phones
    assert 0.0 <= float(match[4]) <= 1.0
    assert 0.0 < float(match[5]) <= 1.0


def test_unit_phone_information_measures_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(RESEARCH))
    probe = runpy.run_path(str(RESEARCH / "unit_phone_information.py"))
    measure = probe["information_and_purity"]
    one_to_one = [("a", 1), ("b", 2), ("c", 3)] * 10
    assert measure(one_to_one) == pytest.approx((1.0, 1.0))
    independent = [(p, u) for p in "ab" for u in (1, 2)] * 5  # every unit says both phones
    assert measure(independent) == pytest.approx((0.0, 0.5))
    merged = [("a", 1), ("b", 1), ("c", 2), ("d", 2)] * 5  # a unit for two phones: 1 of 2 bits
    assert measure(merged) == pytest.approx((0.5, 0.5))


@pytest.mark.slow
def test_regression_decoder(run: Path, corpus: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "regression"
    probe = RESEARCH / "regression_decoder.py"
    args = ("--data", corpus, "--out", out_dir, "--steps", 3, "--clips", 2, "--judges", "signal")
    out = _run(probe, run, *args)
    header, *rows = out.stdout.splitlines()[-3:]
    assert header.split() == ["version", "clips", "WER", "CER", "STOI", "ESTOI", "sim"]
    assert [r.split()[0] for r in rows] == ["dit", "regression"]
    for row in rows:
        assert row.split()[1] == "2"
        stoi = float(row.split()[4])
        assert -1.0 <= stoi <= 1.0  # the signal judge scored both clips
    for version in ("dit", "regression"):
        assert len(list((out_dir / version).glob("*.wav"))) == 2
        assert json.loads((out_dir / f"{version}.json").read_text())["rows"]
    refused = _run(probe, run, *args, status=2)  # the folder exists now: nothing overwritten
    assert "exists" in refused.stderr


@pytest.mark.slow
def test_regression_decoder_regression_alone(run: Path, corpus: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "regression_only"
    probe = RESEARCH / "regression_decoder.py"
    args = ("--data", corpus, "--steps", 2, "--clips", 1, "--judges", "signal")
    out = _run(probe, run, *args, "--out", out_dir, "--versions", "regression")
    assert [r.split()[0] for r in out.stdout.splitlines()[-2:]] == ["version", "regression"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["regression", "regression.json"]
    refused = _run(probe, run, *args, "--out", tmp_path / "x", "--versions", "mel", status=2)
    assert "--versions" in refused.stderr
    assert not (tmp_path / "x").exists()


def test_regression_decoder_learns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its training fits a unit -> mel mapping it can learn (the loss falls well below the
    untrained model's), so a bad figure in the probe is the data's, not the loop's."""
    monkeypatch.syspath_prepend(str(RESEARCH))
    probe = runpy.run_path(str(RESEARCH / "regression_decoder.py"))
    rng = np.random.default_rng(1)
    table = rng.normal(size=(8, 6)).astype(np.float32)  # each unit's mel frame
    clips = []
    for _ in range(4):
        units = rng.integers(0, 8, size=120)
        utterance = type("U", (), {"face_embedding": np.zeros(3, np.float32)})()
        clips.append(
            probe["Clip"](utterance, units, units, np.zeros((120, 2), np.float32), table[units].T)
        )
    model = probe["RegressionDecoder"](8, 2, 3, 6, dim=32)
    first = probe["train"](model, clips, 1, 0.0)
    last = probe["train"](model, clips, 300, 0.0)
    assert last < 0.3 * first


def test_lip_reader_agreement(run: Path, corpus: Path) -> None:
    """The same aligner twice: the ensemble scores as each does, and they always agree."""
    out = _run(RESEARCH / "lip_reader_agreement.py", run, run, "--data", corpus, "--clips", 2)
    header, first, second, ensemble, agree = out.stdout.splitlines()[-5:]
    assert header.split() == ["aligner", "unit", "acc", "edit"]
    assert first.split()[1:] == second.split()[1:] == ensemble.split()[-2:]
    assert ensemble.startswith("ensemble of 2")
    assert 0.0 <= float(first.split()[1]) <= 1.0
    assert agree.endswith("100.0% of the steps")
    refused = _run(RESEARCH / "lip_reader_agreement.py", run, "--data", corpus, status=2)
    assert "at least two" in refused.stderr


def test_lip_reader_agreement_ensembles_independent_errors() -> None:
    """Two readers wrong on different steps: their average is right where either is sure, so
    it beats both, and they agree only where both are right."""
    probe = runpy.run_path(str(RESEARCH / "lip_reader_agreement.py"))
    refs = [np.array([0, 1, 2, 3])]
    eye = np.eye(4, dtype=np.float32)

    def reader(wrong: int) -> list[np.ndarray]:
        probs = 0.1 + 0.6 * eye[refs[0]]  # sure and right
        probs[wrong] = 0.25 + 0.1 * eye[(refs[0][wrong] + 1) % 4]  # unsure and wrong
        return [probs]

    read = [reader(0), reader(3)]
    assert probe["score"](read[0], refs)[0] == pytest.approx(0.75)
    rows = probe["table"](["a", "b"], read, refs)
    assert float(rows[3].split()[-2]) == pytest.approx(1.0)
    assert probe["agreement"](read) == pytest.approx(0.5)
