"""`imagintalk train evaluate-voice`: the acoustic branch judged on held-out speakers.

For every test-split clip (speakers never seen in training) three versions are written to
RUN/voice_eval/<name>/<id>.wav and scored by the same judges as `imagintalk eval`:

- vocoder: the true log-mel through the vocoder (copy synthesis: the vocoder's ceiling);
- codec:   the true log-mel through the RVQ codec and the vocoder (the token round trip);
- dit:     the Style-DiT given the true audio's units, the aligner's lip features and the face
           (no audio of the clip reaches it), decoded by the codec and vocoder.

The ground truth is judged too (the ceiling of each number). Beyond the judges' columns, the
F0 check asks whether the generated pitch follows the emotion labels: each clip's mean F0 in
semitones relative to its speaker's mean over the split, averaged per emotion, for the truth
and for the DiT, with the correlation of the per-clip offsets.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.core.signals import Waveform
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.mel import LogMel
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.pipeline.acoustic_models import VoiceModels
from imagintalk_plugin.pipeline.voice_generation import VoiceConditions, generate_voice
from imagintalk_plugin.training.acoustic_data import clip_mel, content_conditions
from imagintalk_plugin.training.acoustic_presets import AcousticPreset
from imagintalk_plugin.training.loops.corpus import SemanticCorpus, Utterance
from imagintalk_plugin.training.request import TrainRequest, write_metrics

VERSIONS = ("vocoder", "codec", "dit")
JUDGES = ("wer", "speaker", "prosody", "emotion", "signal")
SAMPLE_RATE = 16000


def write_test_wav(path: Path, samples: np.ndarray) -> None:
    """A generated test clip as 16-bit 16 kHz mono BWF, clipped to [-1, 1], replacing any."""
    from imagintalk_plugin.timeline.bwf import write_bwf

    wave = Waveform(np.clip(samples, -1.0, 1.0).astype(np.float32), SAMPLE_RATE)
    write_bwf(path, wave, time_reference=0, bit_depth=16, force=True)


@torch.no_grad()
def copy_synthesis(models: VoiceModels, mel: LogMel, audio: np.ndarray) -> dict[str, np.ndarray]:
    """`audio`'s log-mel through the vocoder ("vocoder") and through codec + vocoder ("codec")."""
    mels = clip_mel(mel, audio, next(models.vocoder.parameters()).device)  # (1, M, T)
    recon = models.codec.decode(models.codec.encode(mels))
    return {
        "vocoder": models.vocoder(mels)[0].cpu().numpy(),
        "codec": models.vocoder(recon)[0].cpu().numpy(),
    }


def write_versions(
    models: VoiceModels,
    utterances: list[Utterance],
    units: UnitExtractor,
    aligner: LipAligner,
    preset: AcousticPreset,
    folder: Path,
) -> Job[None]:
    """Job: RUN/voice_eval/{vocoder,codec,dit}/<id>.wav for each utterance."""
    for name in VERSIONS:
        (folder / name).mkdir(parents=True, exist_ok=True)
    mel = LogMel(models.codec.config.mel)
    for index, utt in enumerate(utterances):
        yield Progress("voicing test clips", index, len(utterances), unit="clip", message=utt.id)
        for name, samples in copy_synthesis(models, mel, utt.audio).items():
            write_test_wav(folder / name / f"{utt.id}.wav", samples)
        assert utt.face_embedding is not None
        assert utt.expressions is not None
        ids, lip = content_conditions(utt, units, aligner)
        conditions = VoiceConditions(ids, lip, utt.face_embedding, utt.expressions)
        voice = generate_voice(models, conditions, settings=preset.sampler)
        write_test_wav(folder / "dit" / f"{utt.id}.wav", voice.waveform.samples)
    yield Progress("voicing test clips", len(utterances), len(utterances), unit="clip")


def _mean_f0_semitones(samples: np.ndarray) -> float:
    from imagintalk_plugin.audio import pitch_track

    f0 = pitch_track(samples).f0_hz
    voiced = f0[f0 > 0]
    return float(np.mean(12 * np.log2(voiced / 100.0))) if len(voiced) else float("nan")


def f0_by_emotion(utterances: list[Utterance], generated: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per-emotion mean F0 offsets (semitones from the speaker's mean), truth vs generated."""
    with warnings.catch_warnings():  # all-unvoiced clips or speakers stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return _f0_by_emotion(utterances, generated)


def _f0_by_emotion(utterances: list[Utterance], generated: dict[str, np.ndarray]) -> dict[str, Any]:
    rows = []
    for utt in utterances:
        if utt.id in generated:
            rows.append(
                (utt.speaker, utt.emotion, _mean_f0_semitones(utt.audio),
                 _mean_f0_semitones(generated[utt.id]))
            )  # fmt: skip
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_speaker[row[0]].append(index)
    truth = np.array([r[2] for r in rows])
    made = np.array([r[3] for r in rows])
    offsets_true, offsets_made = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for indices in by_speaker.values():
        offsets_true[indices] = truth[indices] - np.nanmean(truth[indices])
        offsets_made[indices] = made[indices] - np.nanmean(made[indices])
    table: dict[str, dict[str, float]] = {}
    for emotion in sorted({r[1] for r in rows}):
        mask = np.array([r[1] == emotion for r in rows])
        table[emotion] = {
            "true_st": float(np.nanmean(offsets_true[mask])),
            "generated_st": float(np.nanmean(offsets_made[mask])),
            "clips": int(mask.sum()),
        }
    both = np.isfinite(offsets_true) & np.isfinite(offsets_made)
    corr = (
        float(np.corrcoef(offsets_true[both], offsets_made[both])[0, 1])
        if both.sum() > 2
        else float("nan")
    )
    return {"f0_offset_by_emotion": table, "f0_offset_corr": corr}


def evaluate_voice(
    request: TrainRequest, preset: AcousticPreset, corpus: SemanticCorpus, ctx: Any
) -> Job[dict[str, Any]]:
    """Job: write the test clips' three versions, judge them and the truth, save the summary."""
    from imagintalk_plugin.audio import load_audio
    from imagintalk_plugin.pipeline.acoustic_models import load_voice_models
    from imagintalk_plugin.pipeline.semantic_models import load_aligner, load_units

    if not ctx.is_main:
        return {}
    units = load_units(request.out)
    aligner = load_aligner(request.out, units, str(ctx.device))
    models = load_voice_models(request.out, str(ctx.device))
    models.check_aligner(aligner, request.out / "dit")
    test = corpus.split("test")
    folder = request.out / "voice_eval"
    yield from write_versions(models, test, units, aligner, preset, folder)
    sources = request.sources
    by_corpus = {}
    for source in sources:
        tag = "" if len(sources) == 1 else f"{source.name}_"
        by_corpus[source.name] = yield from _judge_versions(source.manifest, folder, tag)
    # the first corpus's figures at the top level, as with one corpus; all under "corpora"
    results: dict[str, Any] = dict(by_corpus[sources[0].name])
    generated = {u.id: load_audio(folder / "dit" / f"{u.id}.wav") for u in test}
    results["dit"] = {**results["dit"], **f0_by_emotion(test, generated)}
    if len(sources) > 1:
        results["corpora"] = by_corpus
    write_metrics(request.out / "voice_metrics.json", {**results, "preset": preset.name})
    return {"voice": results}


def _judge_versions(manifest: Path, folder: Path, tag: str) -> Job[dict[str, Any]]:
    """Job: the judges' means and summaries of the truth and each version on one manifest's
    test split (reports in `folder/{tag}{version}.json`)."""
    from imagintalk_plugin.evaluation.scoring import run_eval

    results: dict[str, Any] = {}
    for name in ("ground_truth", *VERSIONS):
        yield Progress(f"judging {name}", 0, 1, unit="set")
        outputs = yield from run_eval(
            manifest,
            None if name == "ground_truth" else folder / name,
            ground_truth=name == "ground_truth",
            out=folder / f"{tag}{name}.json",
            split="test",
            judges=JUDGES,
            force=True,
        )
        report = outputs.report
        results[name] = {
            "means": report.means,
            "summary": report.summary,
            "judged": len(report.rows),
        }
    return results


SHOWN = (
    ("wer_corpus", "WER"),
    ("stoi", "STOI"),
    ("mcd_db", "MCD dB"),
    ("speaker_sim_centroid", "spk sim own"),
    ("speaker_sim_other", "spk sim other"),
    ("f0_corr", "F0 corr"),
    ("emotion_match", "emotion"),
)


def voice_lines(results: dict[str, Any]) -> list[str]:
    """The evaluation as a small table: one row per version, the judges' key numbers."""
    lines = ["  " + "version".ljust(13) + "".join(label.rjust(14) for _, label in SHOWN)]
    for name in ("ground_truth", *VERSIONS):
        if name not in results:
            continue
        numbers = {**results[name]["means"], **results[name]["summary"]}
        cells = []
        for key, _ in SHOWN:
            value = numbers.get(key)
            cells.append(f"{value:14.3f}" if isinstance(value, float) else "-".rjust(14))
        lines.append("  " + name.ljust(13) + "".join(cells))
    corr = results.get("dit", {}).get("f0_offset_corr")
    if isinstance(corr, float):
        lines.append(f"  dit F0 offsets vs truth per clip (semitones, by speaker): r = {corr:.3f}")
    for corpus, scores in list((results.get("corpora") or {}).items())[1:]:
        lines += [f"  [{corpus}]", *voice_lines(scores)[1:]]
    return lines
