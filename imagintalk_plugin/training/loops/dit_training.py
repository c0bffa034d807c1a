"""Training the Style-DiT with its face-style adapter: masked codec tokens back from conditions.

Each item is one clip's codec tokens with the conditions inference will have: speech units and
lip features frame by frame (50 Hz), the face's identity embedding, per-frame expressions, and
(for the voice override and the auxiliary loss) the true voice's speaker embedding. Every random
choice of an item (time window, mask ratio and positions, which conditions are dropped for
classifier-free guidance, face or voice as the identity source, emotion label given or not,
lips zeroed or not under `lip_drop`) is drawn from `item_rng(seed, step, item)`, so N processes
train exactly like one.

Loss: cross-entropy on the masked tokens, plus `speaker_loss_weight` x (1 - cosine) between the
identity path's predicted speaker embedding and the true voice's (face-sourced items only: that
is what teaches the face to imply a voice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from imagintalk_plugin.nn.masked_diffusion import corrupt, mask_ratio, masked_token_loss
from imagintalk_plugin.nn.sequences import pad_sequences
from imagintalk_plugin.nn.speech_generator import (
    DIT_KIND,
    GeneratorConfig,
    GeneratorInputs,
    SpeechGenerator,
)
from imagintalk_plugin.training.loops.corpus import item_rng, time_window
from imagintalk_plugin.training.loops.loop import Stage
from imagintalk_plugin.training.loops.settings import TrainConfig

VALID_STEP = 10**9  # fixed "step" seeding validation masks: the same every time
EVAL_CLIPS = 64


@dataclass(frozen=True, eq=False)
class VoiceItem:
    """One clip's training targets and conditions, all time axes at 50 Hz with the same T."""

    codes: np.ndarray  # (L, T) int64 codec tokens of the true audio
    units: np.ndarray  # (T,) int64 speech units of the true audio
    lip: np.ndarray  # (T, F) float32 lip features
    face: np.ndarray  # (face_dim,) float32 face identity embedding
    voice: np.ndarray  # (speaker_dim,) float32 speaker embedding of the true audio
    expressions: np.ndarray  # (T, E) float32, normalised per-frame expression features
    emotion: int  # index into core.signals.EMOTIONS

    def __post_init__(self) -> None:
        t = self.codes.shape[1]
        if not (len(self.units) == len(self.lip) == len(self.expressions) == t):
            raise ValueError("a voice item's time axes differ")


@dataclass(frozen=True)
class ItemDraws:
    """The random choices for one item in one step."""

    window: slice
    ratio: float
    noise: np.ndarray  # (L, W) uniform
    drop_content: bool
    drop_style: bool
    use_voice: bool
    give_emotion: bool
    drop_lips: bool = False


def draw(
    item: VoiceItem, config: GeneratorConfig, size: int, rng: np.random.Generator
) -> ItemDraws:
    """Every random choice of one training item, from its own generator."""
    window = time_window(item.codes.shape[1], size, rng)
    progress = torch.tensor([rng.random()], dtype=torch.float32)
    return ItemDraws(
        window=window,
        ratio=float(mask_ratio(progress)[0].clamp(min=1.0 / max(1, window.stop - window.start))),
        noise=rng.random((item.codes.shape[0], window.stop - window.start)).astype(np.float32),
        drop_content=bool(rng.random() < config.content_drop),
        drop_style=bool(rng.random() < config.style_drop),
        use_voice=bool(rng.random() < config.voice_share),
        give_emotion=bool(rng.random() < config.emotion_share),
        # drawn last and only when used, so runs without lip dropout keep their random streams
        drop_lips=config.lip_drop > 0 and bool(rng.random() < config.lip_drop),
    )


def generator_batch(
    items: list[VoiceItem],
    draws: list[ItemDraws],
    config: GeneratorConfig,
    device: torch.device,
) -> tuple[GeneratorInputs, torch.Tensor, torch.Tensor]:
    """(model inputs with masked codes, target codes (B, L, T), masked positions (B, L, T))."""
    mask_id = config.dit.codebook_size
    none_emotion = config.adapter.num_emotions
    codes, _ = pad_sequences(
        [it.codes[:, d.window].T for it, d in zip(items, draws, strict=True)], 0
    )
    codes = codes.permute(0, 2, 1).contiguous().to(device)  # (B, L, T)
    noise, _ = pad_sequences([d.noise.T for d in draws], 1.0)
    noise = noise.permute(0, 2, 1).contiguous().to(device)  # (B, L, T)
    units, pad = pad_sequences([it.units[d.window] for it, d in zip(items, draws, strict=True)], 0)
    lip, _ = pad_sequences([it.lip[d.window] for it, d in zip(items, draws, strict=True)], 0.0)
    lip[torch.tensor([d.drop_lips for d in draws], dtype=torch.bool)] = 0.0  # (B, T, F)
    expr, _ = pad_sequences(
        [it.expressions[d.window] for it, d in zip(items, draws, strict=True)], 0.0
    )
    pad = pad.to(device)
    ratio = torch.tensor([d.ratio for d in draws], dtype=torch.float32, device=device)
    inputs, masked = corrupt(codes, ratio, noise, mask_id, pad)
    emotion = [
        it.emotion if d.give_emotion else none_emotion for it, d in zip(items, draws, strict=True)
    ]
    model_inputs = GeneratorInputs(
        codes=inputs,
        units=units.to(device),
        lip=lip.to(device),
        face=torch.from_numpy(np.stack([it.face for it in items])).to(device),
        voice=torch.from_numpy(np.stack([it.voice for it in items])).to(device),
        voice_mask=torch.tensor([d.use_voice for d in draws], device=device),
        emotion=torch.tensor(emotion, dtype=torch.long, device=device),
        expressions=expr.to(device),
        ratio=ratio,
        pad=pad,
        drop_content=torch.tensor([d.drop_content for d in draws], device=device),
        drop_style=torch.tensor([d.drop_style for d in draws], device=device),
    )
    return model_inputs, codes, masked


def generator_loss(
    model: nn.Module, inputs: GeneratorInputs, targets: torch.Tensor, masked: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(summed loss over masked tokens incl. the speaker term, token count, speaker cosine)."""
    logits, speaker = model(inputs)  # (B, L, T, C), (B, S)
    loss_sum, count = masked_token_loss(logits, targets, masked)
    assert inputs.voice is not None
    assert inputs.voice_mask is not None
    cosine = nn.functional.cosine_similarity(speaker, inputs.voice, dim=-1)  # (B,)
    # each face item's speaker term weighs as many as its masked tokens: a plain sum over
    # items, so it adds up across processes like the token loss does
    tokens = masked.flatten(1).sum(1).float()  # (B,)
    face_items = (~inputs.voice_mask).float()
    speaker_sum = ((1.0 - cosine) * face_items * tokens).sum()
    config: GeneratorConfig = getattr(model, "module", model).config
    total = loss_sum + config.speaker_loss_weight * speaker_sum
    return total, count, cosine.detach()


def dit_stage(
    config: GeneratorConfig,
    train: TrainConfig,
    items: list[VoiceItem],
    valid_items: list[VoiceItem],
    meta: dict,
) -> Stage:
    """The adapter + Style-DiT as a `Stage` for `run_stage`."""
    torch.manual_seed(train.seed)
    model = SpeechGenerator(config)
    size = 2 * train.max_frames

    def loss_fn(
        trained: nn.Module, chosen: list[int], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        device = next(trained.parameters()).device
        batch = [items[i] for i in chosen]
        draws = [
            draw(it, config, size, item_rng(train.seed, step, i))
            for it, i in zip(batch, chosen, strict=True)
        ]
        inputs, targets, masked = generator_batch(batch, draws, config, device)
        total, count, _ = generator_loss(trained, inputs, targets, masked)
        return total, count

    def evaluate(model_: nn.Module) -> dict[str, float]:
        assert isinstance(model_, SpeechGenerator)
        return dit_scores(model_, valid_items[:EVAL_CLIPS], size, "valid_")

    return Stage("style-dit", DIT_KIND, model, config, train, len(items), loss_fn, evaluate, meta)


@torch.no_grad()
def dit_scores(
    model: SpeechGenerator, items: list[VoiceItem], size: int, prefix: str = ""
) -> dict[str, float]:
    """Masked-token accuracy (all levels and the first), loss and speaker cosine on fixed masks
    at ratio 0.5 with every condition given: a stable yardstick between validations."""
    if not items:
        return {}
    model.eval()
    device = next(model.parameters()).device
    config = model.config
    hits = hits_first = count = count_first = 0
    loss_total, cosines = 0.0, []
    for start in range(0, len(items), 8):
        part = items[start : start + 8]
        draws = []
        for index, item in enumerate(part):
            rng = item_rng(0, VALID_STEP, start + index)
            length = min(size, item.codes.shape[1])
            noise = rng.random((item.codes.shape[0], length)).astype(np.float32)
            draws.append(ItemDraws(slice(0, length), 0.5, noise, False, False, False, False))
        inputs, targets, masked = generator_batch(part, draws, config, device)
        logits, speaker = model(inputs)
        loss, n = masked_token_loss(logits, targets, masked)
        right = (logits.argmax(-1) == targets) & masked
        hits += int(right.sum())
        count += int(n)
        hits_first += int(right[:, 0].sum())
        count_first += int(masked[:, 0].sum())
        loss_total += float(loss)
        assert inputs.voice is not None
        cosines.append(nn.functional.cosine_similarity(speaker, inputs.voice, dim=-1).cpu())
    return {
        f"{prefix}masked_token_acc": hits / max(1, count),
        f"{prefix}masked_token_acc_level0": hits_first / max(1, count_first),
        f"{prefix}masked_token_loss": loss_total / max(1, count),
        f"{prefix}speaker_cosine": float(torch.cat(cosines).mean()),
    }
