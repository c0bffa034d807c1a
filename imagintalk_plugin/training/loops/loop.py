"""The one training loop every stage uses: seeded, resumable, distributed, with progress.

A stage gives a model, its config, a loss function over a list of item indices and an
evaluation function; the loop owns the optimiser (AdamW), the schedule (linear warm-up then
cosine to 10%), the global batch order (a seeded permutation per epoch, a pure function of the
step, so resuming needs no data-loader state), DDP, periodic validation and checkpoints.

Checkpoints go to the stage folder: `model.safetensors` + `config.json` (what inference loads)
and `trainer_state.*` (optimiser moments, RNG state, step, history) for `--resume`. A cancelled
job (Ctrl-C in the CLI, cancel in the panel) saves its last finished step before it stops.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imagintalk_plugin.core.errors import ModelLoadError, OutputExistsError, UsageError
from imagintalk_plugin.core.progress import Job, Progress
from imagintalk_plugin.nn.checkpoint import (
    CONFIG_FILE,
    config_to_dict,
    load_model,
    load_trainer_state,
    load_weights_strictly,
    optimizer_state_tensors,
    restore_optimizer,
    save_model,
    save_trainer_state,
)
from imagintalk_plugin.training.loops.distributed import (
    DistributedContext,
    all_reduce_sum,
    barrier,
    wrap_model,
)
from imagintalk_plugin.training.loops.settings import TrainConfig

# loss_fn(model, item_indices_of_this_process, step) -> (summed loss, number of loss terms)
LossFn = Callable[[torch.nn.Module, list[int], int], tuple[torch.Tensor, torch.Tensor]]
EvalFn = Callable[[torch.nn.Module], dict[str, float]]


@dataclass
class Stage:
    """One thing to train."""

    name: str  # shown in progress, e.g. "aligner"
    kind: str  # checkpoint format, e.g. "imagintalk/aligner"
    model: torch.nn.Module
    config: Any  # the model's config dataclass, saved with it
    train: TrainConfig
    num_items: int  # training utterances
    loss_fn: LossFn
    evaluate: EvalFn | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    find_unused_parameters: bool = False


def learning_rate(train: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < train.warmup:
        return train.lr * (step + 1) / train.warmup
    progress = (step - train.warmup) / max(1, train.steps - train.warmup)
    return train.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def global_batch(train: TrainConfig, num_items: int, step: int) -> list[int]:
    """The item indices of global batch `step`: consecutive slices of seeded epoch orders."""
    items: list[int] = []
    position = step * train.batch_size
    while len(items) < train.batch_size:
        epoch, offset = divmod(position, num_items)
        order = np.random.default_rng([train.seed, epoch]).permutation(num_items)
        take = min(train.batch_size - len(items), num_items - offset)
        items.extend(int(i) for i in order[offset : offset + take])
        position += take
    return items


def run_stage(
    stage: Stage, out: Path, ctx: DistributedContext, *, resume: bool = False, force: bool = False
) -> Job[dict[str, Any]]:
    """Job: train `stage` into `out`; returns the final metrics and history."""
    if stage.num_items < 1:
        raise UsageError(f"no training data for the {stage.name}")
    model = stage.model.to(ctx.device)
    state = _resume_state(stage, model, out, resume=resume, force=force)
    optimizer = _optimizer(model, stage.train)
    start, history = 0, []
    if state is not None:
        start, history = int(state[1]["step"]), list(state[1].get("history", []))
        restore_optimizer(optimizer, *_optimizer_part(state))
        _restore_rng(state[0])
    trained = wrap_model(model, ctx, stage.find_unused_parameters)
    train = stage.train
    step = start
    last_loss = float("nan")
    tic = time.perf_counter()
    try:
        while step < train.steps:
            trained.train()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(train, step)
            mine = global_batch(train, stage.num_items, step)[ctx.rank :: ctx.world_size]
            loss_sum, count = stage.loss_fn(trained, mine, step)
            total = all_reduce_sum(count.float().reshape(1), ctx).clamp(min=1.0)
            optimizer.zero_grad(set_to_none=True)
            (loss_sum / total * ctx.world_size).backward()  # DDP averages: sum / global count
            if train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
            optimizer.step()
            step += 1
            last_loss = float(all_reduce_sum(loss_sum.detach().reshape(1), ctx) / total)
            rate = (step - start) / max(1e-9, time.perf_counter() - tic)
            yield Progress(
                stage.name, step, train.steps, unit="step", message=f"loss {last_loss:.3f}"
            )
            if step % train.eval_every == 0 or step == train.steps:
                record = {"step": step, "loss": last_loss, "steps_per_s": rate}
                if stage.evaluate is not None and ctx.is_main:
                    yield Progress(f"{stage.name}: validating", 0, 1, unit="set")
                    record.update(stage.evaluate(model))
                history.append(record)
            if step % train.save_every == 0 or step == train.steps:
                _save(stage, model, optimizer, out, ctx, step, history)
    except GeneratorExit:  # cancelled between steps: keep what is done, for --resume
        if step > start:
            _save(stage, model, optimizer, out, ctx, step, history)
        raise
    return {"step": step, "loss": last_loss, "history": history}


def _resume_state(
    stage: Stage, model: torch.nn.Module, out: Path, *, resume: bool, force: bool
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The checked training state to continue from (weights loaded into `model`), or None."""
    exists = (out / CONFIG_FILE).exists()
    if not resume:
        if exists and not force:
            raise OutputExistsError(out / CONFIG_FILE)
        return None
    state = load_trainer_state(out)
    if not exists or state is None:
        raise UsageError(f"nothing to resume in {out} (train without --resume first)")
    config, weights, _ = load_model(out, stage.kind, type(stage.config))
    if config_to_dict(config) != config_to_dict(stage.config):
        raise ModelLoadError(out, "was trained with another model config; refusing to resume")
    info = state[1]  # the process count may differ: batches do not depend on it
    if not _same_but_steps(info.get("train"), config_to_dict(stage.train)):
        raise ModelLoadError(out, "was trained with other training settings; refusing to resume")
    load_weights_strictly(model, weights, out)
    return state


def _same_but_steps(saved: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """Resuming may extend the schedule (`--steps`); every other training setting must match."""
    if saved is None:
        return False
    return {**saved, "steps": 0} == {**wanted, "steps": 0}


def _optimizer(model: torch.nn.Module, train: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": train.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=train.lr,
        betas=(0.9, 0.98),
    )


def _optimizer_part(
    state: tuple[dict[str, torch.Tensor], dict[str, Any]],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, info = state
    return {k: v for k, v in tensors.items() if k.startswith("optim.")}, info["optimizer"]


def _restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def _save(
    stage: Stage,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    out: Path,
    ctx: DistributedContext,
    step: int,
    history: list[dict[str, Any]],
) -> None:
    if ctx.is_main:
        latest = history[-1] if history else {}
        meta = {**stage.meta, "step": step, "complete": step >= stage.train.steps}
        meta["metrics"] = {k: v for k, v in latest.items() if k != "step"}
        save_model(out, stage.kind, stage.config, model.state_dict(), meta)
        tensors, optimizer_info = optimizer_state_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        info = {
            "step": step,
            "train": config_to_dict(stage.train),
            "history": history,
            "optimizer": optimizer_info,
            "world_size": ctx.world_size,
        }
        save_trainer_state(out, tensors, info)
    barrier(ctx)


def train_or_load(
    stage: Stage, out: Path, ctx: DistributedContext, *, resume: bool = True
) -> Job[torch.nn.Module]:
    """Job: the stage's model, trained into `out` or, when `out` already holds it finished with
    the same config and settings, loaded from there; an unfinished one is resumed."""
    state = load_trainer_state(out) if (out / CONFIG_FILE).exists() else None
    if state is not None and state[1].get("step", 0) >= stage.train.steps:
        config, weights, _ = load_model(out, stage.kind, type(stage.config))
        same = config_to_dict(config) == config_to_dict(stage.config)
        if same and state[1].get("train") == config_to_dict(stage.train):
            load_weights_strictly(stage.model, weights, out)
            return stage.model.to(ctx.device)
    if state is not None and not resume:
        raise OutputExistsError(out / CONFIG_FILE)
    yield from run_stage(stage, out, ctx, resume=state is not None)
    return stage.model
