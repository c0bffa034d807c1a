"""A frame phone classifier over spliced MFCC frames: the features of `phonetic` speech units.

MFCC k-means units follow the voice as much as the phone: on many-voice free text they carry
about a third of the phones' entropy, and the Style-DiT cannot say words its units do not
hold (docs/research-notebook.md, "Phone-supervised units"). This net learns the phones from
corpora that time them (ImaginTalk-Synth's espeak-ng and Kokoro spans): a small MLP over
+-`context` CMVN MFCC frames, whose bottleneck is then clustered into the unit codebook, as
supervised bottleneck features are in classic ASR. Units stay acoustic clusters (K of them),
but clusters of what tells phones apart.
"""

from __future__ import annotations

import torch
from torch import nn

from imagintalk_plugin.core.progress import Job, Progress

BATCH = 1024  # frames per step (fewer for a corpus of under 8 batches)
MIN_FRAMES = 64
# Gaussian noise on the normalised input: a cheap guard against learning one voice's detail
INPUT_NOISE = 0.1
LABEL_SMOOTHING = 0.1


def splice(frames: torch.Tensor, context: int) -> torch.Tensor:
    """(T, F) frames -> (T, (2 context + 1) F), each frame with its neighbours, edges repeated."""
    t = frames.shape[0]
    if t == 0 or context == 0:
        return frames.reshape(t, -1).repeat(1, 2 * context + 1)
    padded = torch.cat([frames[:1].expand(context, -1), frames, frames[-1:].expand(context, -1)])
    return torch.cat([padded[i : i + t] for i in range(2 * context + 1)], dim=1)


class PhoneNet(nn.Module):
    """Spliced frames -> bottleneck (the unit features) -> phone logits (training only)."""

    def __init__(self, in_dim: int, hidden: int, bottleneck: int, num_phones: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.body = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, bottleneck),
        )
        self.head = nn.Sequential(nn.GELU(), nn.Linear(bottleneck, num_phones))

    def forward(self, spliced: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, in_dim) -> bottleneck (N, B) and phone logits (N, P)."""
        z = self.body((spliced - self.mean) / self.std)
        return z, self.head(z)

    @torch.no_grad()
    def bottleneck(self, spliced: torch.Tensor) -> torch.Tensor:
        """(N, in_dim) -> (N, B) float32, the features units are clustered from."""
        return self.forward(spliced.float())[0].contiguous()


def fit_phone_net(
    spliced: torch.Tensor,
    labels: torch.Tensor,
    num_phones: int,
    *,
    hidden: int,
    bottleneck: int,
    epochs: int,
    seed: int,
) -> Job[PhoneNet]:
    """Train a PhoneNet on labelled frames (labels >= 0; -1 rows are ignored), seeded.

    AdamW with a one-cycle schedule, batch 1024 (at least 8 steps an epoch on a small corpus).
    Yields Progress("phone net", epoch, epochs).
    """
    keep = labels >= 0
    x, y = spliced[keep], labels[keep]
    if x.shape[0] < MIN_FRAMES:
        raise ValueError(f"{x.shape[0]} phone-labelled frames are too few to learn the phones")
    batch = min(BATCH, x.shape[0] // 8) if x.shape[0] >= 8 * MIN_FRAMES else MIN_FRAMES // 2
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = PhoneNet(x.shape[1], hidden, bottleneck, num_phones)
    net.mean.copy_(x.mean(0))
    net.std.copy_(x.std(0).clamp_min(1e-3))
    per_epoch = x.shape[0] // batch
    optimiser = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 2e-3, total_steps=epochs * per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
    net.train()
    for epoch in range(epochs):
        yield Progress("phone net", epoch, epochs, unit="epoch")
        order = torch.randperm(x.shape[0], generator=generator)
        for i in range(per_epoch):
            rows = order[i * batch : (i + 1) * batch]
            noisy = x[rows] + INPUT_NOISE * net.std * torch.randn(
                len(rows), x.shape[1], generator=generator
            )
            loss = loss_fn(net(noisy)[1], y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    yield Progress("phone net", epochs, epochs, unit="epoch")
    return net.eval()


def frame_accuracy(net: PhoneNet, spliced: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of labelled frames (labels >= 0) whose most likely phone is theirs."""
    keep = labels >= 0
    if not keep.any():
        return float("nan")
    with torch.no_grad():
        predicted = net(spliced[keep].float())[1].argmax(1)
    return float((predicted == labels[keep]).float().mean())
