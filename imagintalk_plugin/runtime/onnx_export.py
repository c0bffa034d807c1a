"""ONNX export of every inference stage, with a sidecar that the onnxruntime backend checks.

Each wrapper of `stage_modules` is exported with the dynamo exporter (`torch.export`), batch
and time symbolic, so one file runs any clip length (the TorchScript exporter bakes lengths in
and breaks on new ones). The vocoder stage stops before the iSTFT, which ONNX cannot express;
the sidecar `onnx.json` records the `n_fft` and `hop` the backend needs to finish it, the
inputs, outputs and dynamic axes of every stage, and a `source` the caller chooses (checkpoint
digests, say), so a runtime can refuse an export of another model.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.export import Dim

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.runtime.stages import OVERRIDE_STAGE_NAMES, STAGE_NAMES

ONNX_FORMAT = "imagintalk/onnx"
ONNX_FORMAT_VERSION = 2  # 2: every stage with a time axis takes `pad`
OPSET = 18  # the dynamo exporter's minimum; run by every onnxruntime >= 1.18
SIDECAR = "onnx.json"
EXAMPLE_BATCH = 2  # example sizes: above 1, since torch.export specialises sizes 0 and 1
EXAMPLE_TIME = 13  # odd and prime: equals no static size of any preset, so none is fused

log = logging.getLogger(__name__)

Example = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class StageSpec:
    """Names of a stage's inputs and outputs, and which input axes are batch and time."""

    inputs: tuple[str, ...]  # also the wrapper's forward parameter names, in order
    outputs: tuple[str, ...]
    axes: dict[str, tuple[int | None, int | None]]  # input -> (batch axis, time axis)


STAGE_SPECS: dict[str, StageSpec] = {
    "aligner": StageSpec(
        ("crops", "pad"), ("logits", "features"), {"crops": (0, 1), "pad": (0, 1)}
    ),
    "detector": StageSpec(
        ("tokens", "confidence", "log_probs", "pad"),
        ("logits",),
        {"tokens": (0, 1), "confidence": (0, 1), "log_probs": (0, 1), "pad": (0, 1)},
    ),
    "refiner": StageSpec(
        ("input_ids", "lip_log_probs", "pad"),
        ("logits",),
        {"input_ids": (0, 1), "lip_log_probs": (0, 1), "pad": (0, 1)},
    ),
    "style": StageSpec(
        ("face", "voice", "voice_mask", "emotion", "expressions", "pad"),
        ("identity", "prosody"),
        {
            "face": (0, None),
            "voice": (0, None),
            "voice_mask": (0, None),
            "emotion": (0, None),
            "expressions": (0, 1),
            "pad": (0, 1),
        },
    ),
    "dit": StageSpec(
        ("codes", "units", "lip", "identity", "prosody", "ratio", "drop", "pad"),
        ("logits",),
        {
            "codes": (0, 2),
            "units": (0, 1),
            "lip": (0, 1),
            "identity": (0, None),
            "prosody": (0, 1),
            "ratio": (0, None),
            "drop": (0, None),
            "pad": (0, 1),
        },
    ),
    "codec_decoder": StageSpec(("codes",), ("mel",), {"codes": (0, 2)}),
    "vocoder": StageSpec(("mel",), ("magnitude", "phase"), {"mel": (0, 2)}),
}
# an aligner that reads the lip shape (`--lip-input shape|both`) takes its features too
ALIGNER_SHAPE_SPEC = StageSpec(
    ("crops", "pad", "shape"),
    ("logits", "features"),
    {"crops": (0, 1), "pad": (0, 1), "shape": (0, 1)},
)
# a run's `dit_voice` exports as a second style and DiT stage of the same shape
OVERRIDE_OF = {"style_voice": "style", "dit_voice": "dit"}
STAGE_SPECS.update({name: STAGE_SPECS[base] for name, base in OVERRIDE_OF.items()})


def stage_spec(name: str, module: torch.nn.Module) -> StageSpec:
    """The inputs and outputs stage `name` of this wrapped model exports with."""
    if name == "aligner" and module.aligner.reads_shape:
        return ALIGNER_SHAPE_SPEC
    return STAGE_SPECS[name]


def example_pad(b: int, t: int) -> torch.Tensor:
    """(b, t) bool: the first item's last third is padding (when b > 1), the others none."""
    pad = torch.zeros(b, t, dtype=torch.bool)
    if b > 1:
        pad[0, t - t // 3 :] = True
    return pad


def _aligner_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    encoder = m.aligner.config.encoder
    size = encoder.crop_size
    crops = (torch.rand(b, t, size, size, generator=g), example_pad(b, t))
    if not m.aligner.reads_shape:
        return crops
    return (*crops, torch.randn(b, t, encoder.shape_dim, generator=g) * 0.05)


def _detector_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    k = m.detector.config.num_units
    return (
        torch.randint(0, k, (b, t), generator=g),
        torch.rand(b, t, generator=g),
        torch.randn(b, t, k, generator=g).log_softmax(-1),
        example_pad(b, t),
    )


def _refiner_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    k = m.refiner.config.num_units
    return (
        torch.randint(0, k + 2, (b, t), generator=g),  # units, [PAD] and [MASK]
        torch.randn(b, t, k, generator=g).log_softmax(-1),
        example_pad(b, t),
    )


def _style_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    cfg = m.adapter.config
    return (
        torch.randn(b, cfg.face_dim, generator=g),
        torch.randn(b, cfg.speaker_dim, generator=g),
        torch.arange(b) % 2 == 1,  # both sources in use
        torch.randint(0, cfg.num_emotions + 1, (b,), generator=g),  # num_emotions: from the face
        torch.randn(b, t, cfg.expression_dim, generator=g),
        example_pad(b, t),
    )


def _dit_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    cfg = m.dit.config
    return (
        torch.randint(0, cfg.codebook_size + 1, (b, cfg.levels, t), generator=g),  # + mask id
        torch.randint(0, cfg.num_units + 1, (b, t), generator=g),  # + null unit
        torch.randn(b, t, cfg.lip_dim, generator=g),
        torch.randn(b, cfg.style_dim, generator=g),
        torch.randn(b, t, cfg.style_dim, generator=g),
        torch.rand(b, generator=g),
        torch.arange(b) % 2 == 1,  # both branches in use
        example_pad(b, t),
    )


def _codec_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    cfg = m.codec.config
    return (torch.randint(0, cfg.codebook_size, (b, cfg.levels, t), generator=g),)


def _vocoder_example(m: torch.nn.Module, b: int, t: int, g: torch.Generator) -> Example:
    n_mels = m.vocoder.config.mel.n_mels
    return (torch.randn(b, n_mels, t, generator=g) - 5.0,)  # about speech's log-mel level


EXAMPLES: dict[str, Callable[[torch.nn.Module, int, int, torch.Generator], Example]] = {
    "aligner": _aligner_example,
    "detector": _detector_example,
    "refiner": _refiner_example,
    "style": _style_example,
    "dit": _dit_example,
    "codec_decoder": _codec_example,
    "vocoder": _vocoder_example,
}
EXAMPLES.update({name: EXAMPLES[base] for name, base in OVERRIDE_OF.items()})


def example_inputs(
    name: str, module: torch.nn.Module, batch: int, length: int, seed: int = 0
) -> Example:
    """Random inputs of stage `name` shaped from its wrapped model's config, on CPU: what the
    exporter traces, and what parity checks feed both backends."""
    return EXAMPLES[name](module, batch, length, torch.Generator().manual_seed(seed))


def max_time(name: str, module: torch.nn.Module) -> int | None:
    """The most time steps stage `name` accepts (the refiner's positions), None if any."""
    return module.refiner.config.max_positions if name == "refiner" else None


def _dynamic_shapes(name: str, module: torch.nn.Module) -> dict[str, dict[int, Dim]]:
    batch = Dim("batch", min=1)
    limit = max_time(name, module)
    time_dim = Dim("time", min=1) if limit is None else Dim("time", min=1, max=limit)
    shapes: dict[str, dict[int, Dim]] = {}
    for input_name, (batch_axis, time_axis) in stage_spec(name, module).axes.items():
        axes = {} if batch_axis is None else {batch_axis: batch}
        if time_axis is not None:
            axes[time_axis] = time_dim
        shapes[input_name] = axes
    return shapes


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def _export_stage(name: str, module: torch.nn.Module, path: Path) -> dict:
    """Export one stage to `path`; returns its sidecar entry, read off the exported graph."""
    spec = stage_spec(name, module)
    module.eval()
    args = tuple(
        a.to(_device(module)) for a in example_inputs(name, module, EXAMPLE_BATCH, EXAMPLE_TIME)
    )
    with warnings.catch_warnings():
        # notes that an axis name is shared by several inputs (one Dim), not problems
        warnings.filterwarnings("ignore", message=".*axis name.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        program = torch.onnx.export(
            module,
            args,
            None,
            dynamo=True,
            dynamic_shapes=_dynamic_shapes(name, module),
            input_names=list(spec.inputs),
            output_names=list(spec.outputs),
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )
    program.save(path, external_data=False)  # external data anyway when over 2 GB
    graph = program.model.graph
    dynamic = {
        value.name: {
            str(axis): str(dim.value)
            for axis, dim in enumerate(value.shape)
            if not isinstance(dim, int)
        }
        for value in (*graph.inputs, *graph.outputs)
    }
    return {
        "file": f"{name}.onnx",
        "inputs": [value.name for value in graph.inputs],
        "outputs": [value.name for value in graph.outputs],
        "dynamic_axes": dynamic,
        "max_time": max_time(name, module),
    }


def export_onnx(
    modules: dict[str, torch.nn.Module], out_dir: Path, *, source: dict, force: bool = False
) -> list[Path]:
    """Export the wrappers of `stage_modules` to `<stage>.onnx` files and `onnx.json` in
    `out_dir`, each written atomically, the sidecar last (a folder without it is unfinished).

    `source` goes into the sidecar as given (JSON-serialisable), so the runtime can refuse an
    export of other weights. The `OVERRIDE_STAGE_NAMES` (a run's `dit_voice`) are exported
    when `modules` has them. An existing export is only overwritten with `force`. Returns the
    paths written, the sidecar last.
    """
    missing = [name for name in STAGE_NAMES if name not in modules]
    if missing:
        raise ValueError(f"no module for stage(s) {', '.join(missing)}")
    given = [name for name in OVERRIDE_STAGE_NAMES if name in modules]
    if given and len(given) != len(OVERRIDE_STAGE_NAMES):
        raise ValueError(f"the override stages come together: {', '.join(OVERRIDE_STAGE_NAMES)}")
    names = (*STAGE_NAMES, *given)
    out_dir = Path(out_dir)
    every = (*STAGE_NAMES, *OVERRIDE_STAGE_NAMES)
    targets = [out_dir / SIDECAR, *(out_dir / f"{name}.onnx" for name in every)]
    existing = [path.name for path in targets if path.exists()]
    if existing and not force:
        raise UsageError(
            f"ONNX export folder '{out_dir}' already holds {', '.join(existing)} "
            "(use --force to overwrite)"
        )
    json.dumps(source)  # fail before the slow part if the source cannot be written
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SIDECAR).unlink(missing_ok=True)  # unloadable until the new export is complete
    stages: dict[str, dict] = {}
    written: list[Path] = []
    for name in OVERRIDE_STAGE_NAMES:  # a previous export's, when this one has none
        if name not in names:
            (out_dir / f"{name}.onnx").unlink(missing_ok=True)
            (out_dir / f"{name}.onnx.data").unlink(missing_ok=True)
    for name in names:
        start = time.perf_counter()
        path = out_dir / f"{name}.onnx"
        (out_dir / f"{name}.onnx.data").unlink(missing_ok=True)  # a previous export's weights
        with atomic_path(path) as tmp:
            stages[name] = _export_stage(name, modules[name], tmp)
            data = tmp.with_name(f"{tmp.name}.data")
            if data.exists():  # over 2 GB: the weights sit beside the graph
                shutil.move(data, out_dir / data.name)
        written.append(path)
        log.info("exported %s in %.1f s", name, time.perf_counter() - start)
    vocoder = modules["vocoder"].vocoder.config
    sidecar = {
        "format": ONNX_FORMAT,
        "format_version": ONNX_FORMAT_VERSION,
        "opset": OPSET,
        "torch": torch.__version__,
        "stages": stages,
        "vocoder": {"n_fft": vocoder.n_fft, "hop": vocoder.mel.hop},
        "source": source,
    }
    with atomic_path(out_dir / SIDECAR) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    written.append(out_dir / SIDECAR)
    return written
