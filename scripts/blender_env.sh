#!/usr/bin/env bash
# The Blender bridge's tests: they import `bpy` (Blender as a Python module), which pins
# numpy<2, so they run in their own venv, ./.venv-bpy, never in the main ./.venv.
# Makes ./.venv-bpy when missing (a ~370 MB download of the bpy wheel; a local copy in
# $BPY_WHEELS, default /tmp/bpywheels, is used when that folder exists), then runs
# tests/hosts/blender. The tests also need the main ./.venv (scripts/install.sh): they make
# their media and read the exported files back with it. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-bpy
WHEELS=${BPY_WHEELS:-/tmp/bpywheels}
if [[ ! -x "$VENV/bin/python" ]]; then
    python3.11 -m venv "$VENV"
    # keep the venv out of git and ruff without touching the project's .gitignore
    echo "*" > "$VENV/.gitignore"
fi
if ! "$VENV/bin/python" -c "import bpy, pytest, pytest_timeout, opentimelineio" 2>/dev/null; then
    find_links=()
    if [[ -d "$WHEELS" ]]; then
        find_links=(--find-links "$WHEELS")
    fi
    "$VENV/bin/python" -m pip install --quiet "${find_links[@]}" \
        "bpy==4.5.*" pytest pytest-timeout "numpy<2" opentimelineio
fi
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
exec "$VENV/bin/python" -m pytest tests/hosts/blender -q -p no:cacheprovider "$@"
