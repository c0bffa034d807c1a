"""Train the tiny aligner a few steps into argv[1]; run plainly or under torchrun (gloo)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from semantic_fixtures import toy_corpus

from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.nn.unit_fitting import fit_unit_extractor
from imagintalk_plugin.training.loops.aligner_training import aligner_stage
from imagintalk_plugin.training.loops.distributed import setup_distributed, teardown_distributed
from imagintalk_plugin.training.loops.loop import run_stage
from imagintalk_plugin.training.presets import semantic_preset


def main() -> None:
    torch.set_num_threads(1)
    ctx = setup_distributed("cpu")
    preset = semantic_preset("tiny")
    corpus = toy_corpus()
    train = corpus.split("train")
    units = drive(fit_unit_extractor([u.audio for u in train], replace(preset.units, num_units=8)))
    stage = aligner_stage(
        replace(preset.aligner, num_units=8),
        replace(preset.aligner_train, steps=4, batch_size=4, eval_every=100, save_every=100),
        [u.lip for u in train],
        [units.unit_ids(u.audio) for u in train],
        [],
        [],
        meta={"world_size": ctx.world_size},
    )
    out = Path(sys.argv[1])
    probe_crops = corpus.split("test")[0].crops
    initial = stage.model.predict(probe_crops).log_probs  # what training moves the probe from
    start = {k: v.detach().clone() for k, v in stage.model.state_dict().items()}
    losses: list[float] = []
    drive(
        run_stage(stage, out, ctx),
        lambda step: losses.append(step.message) if step.message else None,
    )
    if ctx.is_main:  # the global loss of each step, and the trained model's output on a probe
        (out / "losses.json").write_text(json.dumps(losses))
        np.save(out / "probe.npy", stage.model.predict(probe_crops).log_probs)
        np.save(out / "initial_probe.npy", initial)
        save_file(start, str(out / "initial.safetensors"))
    teardown_distributed()


if __name__ == "__main__":
    main()
