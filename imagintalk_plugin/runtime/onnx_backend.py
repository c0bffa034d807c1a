"""The onnxruntime backend: an `onnx_export` folder as a `Stages`.

Every stage is an onnxruntime session; its callable takes and returns CPU torch tensors, so the
pipeline's loops (the refiner's mask-predict, the diffusion sampler) run unchanged on either
backend. The vocoder's session stops at magnitude and phase; the iSTFT runs here in torch,
exactly as `Vocoder.synthesize`, with the `n_fft` and `hop` of the sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imagintalk_plugin.core.errors import ModelLoadError, UsageError
from imagintalk_plugin.nn.vocoder import inverse_stft
from imagintalk_plugin.runtime.onnx_export import ONNX_FORMAT, ONNX_FORMAT_VERSION, SIDECAR
from imagintalk_plugin.runtime.stages import OVERRIDE_STAGE_NAMES, STAGE_NAMES, Stages

# onnxruntime's input types -> the numpy dtype fed to them
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def read_sidecar(folder: Path, expected_source: dict | None = None) -> dict:
    """The checked `onnx.json` of an export folder; ModelLoadError (one line) when it is
    missing, unreadable, of another format or version, or exported from another `source`."""
    path = Path(folder) / SIDECAR
    if not path.is_file():
        raise ModelLoadError(folder, f"no {SIDECAR} (not an ONNX export, or an unfinished one)")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(path, f"unreadable: {error}") from error
    if not isinstance(sidecar, dict) or sidecar.get("format") != ONNX_FORMAT:
        found = sidecar.get("format") if isinstance(sidecar, dict) else None
        raise ModelLoadError(path, f"format is {found!r}, not {ONNX_FORMAT!r}")
    if sidecar.get("format_version") != ONNX_FORMAT_VERSION:
        raise ModelLoadError(
            path,
            f"format_version {sidecar.get('format_version')!r} is not the supported "
            f"{ONNX_FORMAT_VERSION} (export again with this version)",
        )
    if expected_source is not None and sidecar.get("source") != expected_source:
        raise ModelLoadError(
            path, "exported from other weights than the checkpoint in use (export again)"
        )
    stages = sidecar.get("stages")
    overrides = [n for n in OVERRIDE_STAGE_NAMES if isinstance(stages, dict) and n in stages]
    if overrides and len(overrides) != len(OVERRIDE_STAGE_NAMES):
        raise ModelLoadError(path, f"has {overrides[0]} without the other dit_voice stage")
    for name in (*STAGE_NAMES, *overrides):
        entry = stages.get(name) if isinstance(stages, dict) else None
        if not isinstance(entry, dict) or not {"file", "inputs", "outputs"} <= entry.keys():
            raise ModelLoadError(path, f"no complete entry for the {name} stage")
    vocoder = sidecar.get("vocoder")
    if not isinstance(vocoder, dict) or not all(
        isinstance(vocoder.get(key), int) and vocoder[key] > 0 for key in ("n_fft", "hop")
    ):
        raise ModelLoadError(path, "no vocoder n_fft and hop for the inverse STFT")
    return sidecar


def _providers(device: str, available: list[str], folder: Path) -> list[str]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelLoadError(
                folder,
                "device cuda asked, but onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}; install onnxruntime-gpu)",
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise UsageError(f"ONNX device must be 'cpu' or 'cuda', not {device!r}")


def _session_call(session: Any, name: str) -> Callable[..., Any]:
    """A torch-in, torch-out callable over one session: one tensor, or a tuple of several."""
    inputs = session.get_inputs()
    names = [item.name for item in inputs]
    types = [_NUMPY_TYPES.get(item.type) for item in inputs]
    if None in types:
        unknown = [item.type for item in inputs if item.type not in _NUMPY_TYPES]
        raise ModelLoadError(name, f"input types {unknown} are not supported")

    def call(*args: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if len(args) != len(names):
            raise TypeError(f"ONNX stage {name} takes {len(names)} inputs, got {len(args)}")
        feed = {
            key: np.ascontiguousarray(arg.detach().cpu().numpy(), dtype=dtype)
            for key, arg, dtype in zip(names, args, types, strict=True)
        }
        outputs = tuple(torch.from_numpy(out) for out in session.run(None, feed))
        return outputs[0] if len(outputs) == 1 else outputs

    return call


def onnx_stages(
    folder: Path, device: str = "cpu", threads: int = 0, expected_source: dict | None = None
) -> Stages:
    """Load an `export_onnx` folder into onnxruntime sessions as a `Stages` (backend "onnx").

    `device` "cuda" runs on CUDAExecutionProvider (CPU as fallback for unsupported nodes);
    `threads` is onnxruntime's intra-op thread count (0: its default). `expected_source`, when
    given, must equal the sidecar's `source`, so an export of other weights is refused.
    Every problem with the folder is a one-line ModelLoadError.
    """
    folder = Path(folder)
    if threads < 0:
        raise UsageError(f"threads must be 0 (default) or more, not {threads}")
    sidecar = read_sidecar(folder, expected_source)
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise ModelLoadError(
            folder, "onnxruntime is not installed (pip install imagintalk[cpu] or [gpu])"
        ) from error
    providers = _providers(device, list(ort.get_available_providers()), folder)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    # Idle pool threads must not spin between runs: the sampler's own torch work runs then, and
    # eight sessions' spinning threads would take the cores from it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no warnings per session on stderr
    calls: dict[str, Callable[..., Any]] = {}
    for name in (*STAGE_NAMES, *(n for n in OVERRIDE_STAGE_NAMES if n in sidecar["stages"])):
        entry = sidecar["stages"][name]
        path = folder / entry["file"]
        if not path.is_file():
            raise ModelLoadError(path, f"missing: the {name} stage of this export")
        try:
            session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(path, f"onnxruntime cannot load it: {error}") from error
        actual = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
        if actual != (list(entry["inputs"]), list(entry["outputs"])):
            raise ModelLoadError(path, f"inputs/outputs {actual} differ from {SIDECAR}'s")
        calls[name] = _session_call(session, name)

    n_fft, hop = int(sidecar["vocoder"]["n_fft"]), int(sidecar["vocoder"]["hop"])
    window = torch.hann_window(n_fft)  # what `Vocoder` registers
    spectrum = calls["vocoder"]

    def vocode(mel: torch.Tensor) -> torch.Tensor:
        if mel.shape[-1] == 0:
            return torch.zeros(mel.shape[0], 0)
        magnitude, phase = spectrum(mel)
        return inverse_stft(magnitude, phase, n_fft, hop, window)

    return Stages(
        backend="onnx",
        device=torch.device("cpu"),
        aligner=calls["aligner"],
        detector=calls["detector"],
        refiner=calls["refiner"],
        style=calls["style"],
        dit=calls["dit"],
        codec_decoder=calls["codec_decoder"],
        vocoder=vocode,
        threads=threads,
        style_voice=calls.get("style_voice"),
        dit_voice=calls.get("dit_voice"),
    )
