"""Does a plain regression decoder keep more of the words than the Style-DiT?

Measures how many words survive the acoustic generator. A small convolutional regression
(each frame's speech unit, the aligner's lip features and the face embedding -> the log-mel,
L1 loss) is trained for --steps steps on the manifest's training clips; then, for the first N
test clips, two versions are written and judged by `imagintalk eval`'s judges:

- dit: the run's Style-DiT (its preset's sampler) -> codec -> vocoder, as the product speaks;
- regression: the regressed log-mel straight into the run's vocoder (no codec, no sampling).

Both get the same units: the true audio's (`--source true`, as `train evaluate-voice` gives
them: the generator's ceiling) or the aligner's best unit per frame from the lips (`--source
lips`: no detector or refiner). The regression learns from both kinds: each training window
takes the aligner's units with probability --lip-unit-share, else the true ones.
`--versions regression` writes and judges the regression alone, which also runs on an aligner
the run's Style-DiT was not trained with (to compare lip readers through one decoder).

Inputs: RUN, a run or model folder with units/, aligner/, dit/, codec/ and vocoder/; --data,
its manifest (training clips to learn from, test clips to judge); --out, a new folder.

Output: OUT/<version>/<id>.wav and OUT/<version>.json (the judges' reports), and a table on
stdout, one row per version: WER, CER, STOI, ESTOI and speaker similarity to the recording.
The figures of the last runs are in research/README.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from dit_probe import run_sampler
from torch import nn

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.nn.lip_aligner import LipAligner
from imagintalk_plugin.nn.masked_diffusion import SamplerSettings
from imagintalk_plugin.nn.mel import LogMel, denormalize_log_mel, normalize_log_mel
from imagintalk_plugin.nn.units import UnitExtractor
from imagintalk_plugin.pipeline.acoustic_models import VoiceModels, load_voice_models
from imagintalk_plugin.pipeline.semantic_models import load_aligner, load_units
from imagintalk_plugin.pipeline.voice_generation import VoiceConditions, synthesize_voice
from imagintalk_plugin.training.acoustic_data import clip_mel
from imagintalk_plugin.training.loops.corpus import Utterance
from imagintalk_plugin.training.training_data import load_semantic_corpus
from imagintalk_plugin.training.voice_evaluation import write_test_wav

VERSIONS = ("dit", "regression")
WINDOW = 100  # training window, 50 Hz frames (2 s)


class _Block(nn.Module):
    """Pre-norm residual dilated 1-D convolution."""

    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, dim)
        self.conv = nn.Conv1d(dim, dim, 5, padding=2 * dilation, dilation=dilation)
        self.mix = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(nn.functional.gelu(self.conv(self.norm(x))))


class RegressionDecoder(nn.Module):
    """units (B, T), lip (B, T, F), face (B, D) -> normalised log-mel (B, M, T)."""

    def __init__(
        self, num_units: int, lip_dim: int, face_dim: int, mels: int, dim: int = 256
    ) -> None:
        super().__init__()
        self.units = nn.Embedding(num_units, dim)
        self.lip = nn.Linear(lip_dim, dim)
        self.face = nn.Linear(face_dim, dim)
        self.blocks = nn.Sequential(*(_Block(dim, d) for d in (1, 2, 4, 1, 2, 4, 1, 2)))
        self.head = nn.Conv1d(dim, mels, 1)

    def forward(self, units: torch.Tensor, lip: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        x = self.units(units) + self.lip(lip) + self.face(face)[:, None]  # (B, T, dim)
        return self.head(self.blocks(x.transpose(1, 2)))


@dataclass(frozen=True, eq=False)
class Clip:
    """One clip's inputs and target, all at 50 Hz and the same length."""

    utterance: Utterance
    true_units: np.ndarray  # (T,) int64
    lip_units: np.ndarray  # (T,) int64, the aligner's best
    lip: np.ndarray  # (T, F) float32
    mel: np.ndarray  # (M, T) float32, normalised log-mel


def clips(
    utterances: list[Utterance], units: UnitExtractor, aligner: LipAligner, mel: LogMel
) -> list[Clip]:
    """Each utterance's units (true and from the lips), lip features and log-mel."""
    out = []
    for utt in utterances:
        ids = units.unit_ids(utt.audio).astype(np.int64)
        read = aligner.predict(utt.crops, utt.shape)
        target = normalize_log_mel(clip_mel(mel, utt.audio, torch.device("cpu"))[0]).numpy()
        n = min(len(ids), len(read.tokens), target.shape[1])
        out.append(Clip(utt, ids[:n], read.tokens[:n], read.features[:n], target[:, :n]))
    return out


def train(model: RegressionDecoder, data: list[Clip], steps: int, lip_unit_share: float) -> float:
    """Adam(W) with a one-cycle schedule on 16 random 2 s windows a step; -> the last loss."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, 1e-3, total_steps=max(steps, 1), pct_start=0.05
    )
    model.train()
    loss = torch.tensor(float("nan"))
    started = time.monotonic()
    for step in range(steps):
        units, lips, faces, mels, real = [], [], [], [], []
        for _ in range(16):
            clip = data[rng.integers(len(data))]
            start = int(rng.integers(0, max(1, len(clip.lip) - WINDOW)))
            window = slice(start, start + WINDOW)
            source = clip.lip_units if rng.random() < lip_unit_share else clip.true_units
            pad = WINDOW - len(source[window])
            units.append(np.pad(source[window], (0, pad)))
            lips.append(np.pad(clip.lip[window], ((0, pad), (0, 0))))
            mels.append(np.pad(clip.mel[:, window], ((0, 0), (0, pad))))
            real.append(np.arange(WINDOW) < WINDOW - pad)
            faces.append(clip.utterance.face_embedding)
        out = model(
            torch.as_tensor(np.stack(units)),
            torch.as_tensor(np.stack(lips)),
            torch.as_tensor(np.stack(faces)).float(),
        )
        keep = torch.as_tensor(np.stack(real))[:, None].float()  # (B, 1, T): no loss on padding
        loss = ((out - torch.as_tensor(np.stack(mels))).abs() * keep).sum() / (
            keep.sum() * out.shape[1]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 500 == 0 or step == steps - 1:
            seconds = time.monotonic() - started
            print(f"step {step + 1}/{steps}: L1 {loss.item():.4f} ({seconds:.0f} s)", flush=True)
    model.eval()
    return float(loss.item())


@torch.no_grad()
def speak(
    model: RegressionDecoder,
    models: VoiceModels,
    clip: Clip,
    source: str,
    settings: SamplerSettings,
    versions: tuple[str, ...] = VERSIONS,
) -> dict[str, np.ndarray]:
    """One test clip's `versions`, from the same units."""
    ids = clip.true_units if source == "true" else clip.lip_units
    utt = clip.utterance
    assert utt.face_embedding is not None
    assert utt.expressions is not None
    out = {}
    if "dit" in versions:
        conditions = VoiceConditions(ids, clip.lip, utt.face_embedding, utt.expressions)
        out["dit"], _ = synthesize_voice(models, conditions, settings=settings)
    if "regression" in versions:
        mel = model(
            torch.as_tensor(ids)[None],
            torch.as_tensor(clip.lip)[None],
            torch.as_tensor(utt.face_embedding)[None].float(),
        )
        out["regression"] = models.vocoder(denormalize_log_mel(mel))[0].numpy()
    return out


def judge(
    manifest: Path, out: Path, judges: str, versions: tuple[str, ...] = VERSIONS
) -> list[str]:
    """Each version's judged means as table rows."""
    from imagintalk_plugin.evaluation.scoring import run_eval

    rows = [f"{'version':<12}{'clips':>6}{'WER':>8}{'CER':>8}{'STOI':>8}{'ESTOI':>8}{'sim':>8}"]
    for name in versions:
        report = drive(
            run_eval(
                manifest, out / name, out=out / f"{name}.json", split="test",
                judges=judges.split(","), force=True,
            )
        ).report  # fmt: skip
        numbers = {**report.means, **report.summary}
        wer = numbers.get("whisper_wer_corpus", numbers.get("wer_corpus", float("nan")))
        cer = numbers.get("whisper_cer_corpus", numbers.get("cer_corpus", float("nan")))
        signal = (numbers.get(k, float("nan")) for k in ("stoi", "estoi", "speaker_sim"))
        cells = [wer, cer, *signal]
        rows.append(f"{name:<12}{len(report.rows):>6}" + "".join(f"{c:>8.3f}" for c in cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run or model folder")
    parser.add_argument("--data", type=Path, required=True, help="manifest.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the audio")
    parser.add_argument("--clips", type=int, default=30, help="test clips (default 30)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps (default 3000)")
    parser.add_argument("--source", choices=("true", "lips"), default="lips")
    parser.add_argument("--lip-unit-share", type=float, default=0.5)
    parser.add_argument(
        "--judges", default="wer,speaker,signal", help="for `imagintalk eval` (whisper: free text)"
    )
    parser.add_argument(
        "--versions",
        default=",".join(VERSIONS),
        help="which to write and judge (default dit,regression); regression alone also runs "
        "on an aligner the run's Style-DiT was not trained with",
    )
    args = parser.parse_args()
    asked = set(args.versions.split(","))
    if not asked or asked - set(VERSIONS):
        parser.error(f"--versions: one or both of {', '.join(VERSIONS)}")
    versions = tuple(v for v in VERSIONS if v in asked)
    if args.out.exists():
        parser.error(f"{args.out} exists; give a new folder")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    corpus = drive(load_semantic_corpus(args.data)).corpus
    models = load_voice_models(args.run, "cpu")
    units = load_units(args.run)
    aligner = load_aligner(args.run, units, "cpu")
    if "dit" in versions:  # the Style-DiT reads this aligner's features
        models.check_aligner(aligner, args.run / "dit")
    mel = LogMel(models.codec.config.mel)
    training = clips(corpus.split("train"), units, aligner, mel)
    test = clips(corpus.split("test")[: args.clips], units, aligner, mel)
    first = training[0]
    model = RegressionDecoder(
        units.config.num_units,
        first.lip.shape[1],
        len(first.utterance.face_embedding),  # type: ignore[arg-type]
        first.mel.shape[0],
    )
    train(model, training, args.steps, args.lip_unit_share)
    settings = run_sampler(args.run)
    for name in versions:
        (args.out / name).mkdir(parents=True)
    for clip in test:
        for name, samples in speak(model, models, clip, args.source, settings, versions).items():
            write_test_wav(args.out / name / f"{clip.utterance.id}.wav", samples)
    print("\n".join(judge(args.data, args.out, args.judges, versions)))


if __name__ == "__main__":
    main()
