#!/usr/bin/env bash
# The project's test command: quality gates (ruff, import contracts), then the test suite.
# Uses ./.venv made by scripts/install.sh. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${IMAGINTALK_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH" QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
echo "== ruff"
ruff check .
ruff format --check .
echo "== import contracts"
lint-imports
echo "== tests"
python -m pytest "$@"
if [ "${IMAGINTALK_SKIP_BLENDER:-0}" = 1 ]; then
    echo "== Blender bridge tests: skipped (IMAGINTALK_SKIP_BLENDER=1)"
else
    echo "== Blender bridge tests (their own venv: the bpy wheel pins numpy<2)"
    bash scripts/blender_env.sh
fi
