#!/usr/bin/env bash
# Install ImaginTalk and everything its main job and tests need into ./.venv.
#
# One command for every machine: it picks the torch build and the ONNX runtime for the machine.
#   - GPU machine (nvidia-smi lists a GPU): CUDA torch from PyPI + onnxruntime-gpu.
#   - CPU machine: torch==$TORCH_VERSION resolved through pip's configured sources (a local CPU
#     wheel where the machine provides one; set IMAGINTALK_TORCH_INDEX to a CPU wheel index
#     elsewhere) + onnxruntime.
# Never both onnxruntime and onnxruntime-gpu: the other one is removed first.
# Environment: IMAGINTALK_DEVICE=auto|cpu|cuda, IMAGINTALK_VENV (default .venv),
#              PYTHON (default python3), IMAGINTALK_TORCH_INDEX (optional --index-url for torch).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
PYTHON=${PYTHON:-python3}
VENV=${IMAGINTALK_VENV:-.venv}
DEVICE=${IMAGINTALK_DEVICE:-auto}

if [ "$DEVICE" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
        DEVICE=cuda
    else
        DEVICE=cpu
    fi
fi
case "$DEVICE" in cpu|cuda) ;; *) echo "install: IMAGINTALK_DEVICE must be auto, cpu or cuda" >&2; exit 2;; esac

# QtMultimedia (the panel's audition player) needs PulseAudio's client library from the system.
if ! ldconfig -p 2>/dev/null | grep -q 'libpulse\.so\.0'; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get install -y -q libpulse0 >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libpulse0 >/dev/null; }; } \
            || echo "install: warning: could not install libpulse0; the panel's audition player is off" >&2
    else
        echo "install: note: for the panel's audition player install libpulse0 (sudo apt-get install libpulse0)" >&2
    fi
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
echo "install: $DEVICE build into $VENV"

if [ "$DEVICE" = cuda ]; then
    # A CPU build of the same version would count as installed: remove it first.
    if "$VENV/bin/python" -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' 2>/dev/null; then
        "${PIP[@]}" uninstall -q -y torch
    fi
    # Ignore local CPU-only wheels so pip takes the registry's CUDA build.
    env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "${PIP[@]}" install -q "torch==$TORCH_VERSION"
    ORT_WANT=onnxruntime-gpu ORT_DROP=onnxruntime EXTRA=gpu
else
    have=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
    if [ -z "$have" ] || [[ "$have" != "$TORCH_VERSION"* ]] || [[ "$have" != *+cpu ]]; then
        "${PIP[@]}" install -q ${IMAGINTALK_TORCH_INDEX:+--index-url "$IMAGINTALK_TORCH_INDEX"} \
            "torch==$TORCH_VERSION"
    fi
    ORT_WANT=onnxruntime ORT_DROP=onnxruntime-gpu EXTRA=cpu
fi

if "${PIP[@]}" show -q "$ORT_DROP" >/dev/null 2>&1; then
    "${PIP[@]}" uninstall -q -y "$ORT_DROP"
fi
"${PIP[@]}" install -q -e ".[$EXTRA,dev]"
# Resemblyzer (speaker-similarity judge; ships its pretrained weights) declares `webrtcvad`, an
# sdist that needs a C compiler; `webrtcvad-wheels` (in our dependencies) provides the same
# module prebuilt, so Resemblyzer goes in without its declared dependencies.
"${PIP[@]}" install -q --no-deps "resemblyzer>=0.1.4"

"$VENV/bin/python" - "$DEVICE" <<'PYEOF'
import importlib.metadata as md
import sys

import torch

device = sys.argv[1]
installed = {d.metadata["Name"].lower() for d in md.distributions()}
ort = sorted(installed & {"onnxruntime", "onnxruntime-gpu"})
if len(ort) != 1:
    sys.exit(f"install: expected exactly one ONNX runtime, found {ort}")
if device == "cuda" and torch.version.cuda is None:
    sys.exit("install: a GPU was found but torch has no CUDA support")
print(f"install: ok (torch {torch.__version__}, {ort[0]})")
PYEOF
