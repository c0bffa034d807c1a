"""Train the tiny Style-DiT a few steps into argv[1]; run plainly or under torchrun (gloo)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from acoustic_fixtures import toy_voice_items

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.training.acoustic_presets import acoustic_preset
from imagintalk_plugin.training.loops.distributed import setup_distributed, teardown_distributed
from imagintalk_plugin.training.loops.dit_training import ItemDraws, dit_stage, generator_batch
from imagintalk_plugin.training.loops.loop import run_stage


def main() -> None:
    torch.set_num_threads(1)
    ctx = setup_distributed("cpu")
    preset = acoustic_preset("tiny")
    config = preset.generator
    stage = dit_stage(
        config,
        replace(preset.dit_train, steps=4, batch_size=4, eval_every=100, save_every=100),
        toy_voice_items(config, 12, seed=0),
        [],
        meta={"world_size": ctx.world_size},
    )
    out = Path(sys.argv[1])
    losses: list[str] = []
    drive(
        run_stage(stage, out, ctx),
        lambda step: losses.append(step.message) if step.message else None,
    )
    if ctx.is_main:  # the global loss of each step, and the trained model's output on a probe
        (out / "losses.json").write_text(json.dumps(losses))
        probe = toy_voice_items(config, 2, seed=9)
        rng = np.random.default_rng(0)
        draws = [
            ItemDraws(
                window=slice(0, it.codes.shape[1]),
                ratio=0.5,
                noise=rng.random(it.codes.shape).astype(np.float32),
                drop_content=False,
                drop_style=False,
                use_voice=False,
                give_emotion=True,
            )
            for it in probe
        ]
        inputs, _, _ = generator_batch(probe, draws, config, torch.device("cpu"))
        stage.model.eval()
        with torch.no_grad():
            logits, speaker = stage.model(inputs)
        np.save(out / "probe.npy", logits.log_softmax(-1).numpy())
        np.save(out / "speaker.npy", speaker.numpy())
    teardown_distributed()


if __name__ == "__main__":
    main()
