"""The bridge runs in Resolve's own Python: standard library only, and no newer syntax than the
link protocol's floor (Python 3.8)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "imagintalk_plugin" / "data" / "host_adapters" / "resolve"
# installed into the bridge too (as imagintalk_link.py, imagintalk_otio.py)
SHARED = [ROOT / "imagintalk_plugin" / "hostlink" / n for n in ("protocol.py", "otio_json.py")]
FILES = sorted(SOURCES.rglob("*.py")) + SHARED
STDLIB = getattr(sys, "stdlib_module_names", set())


def test_the_bridge_sources_are_found():
    names = {p.relative_to(SOURCES).as_posix() for p in FILES if p not in SHARED}
    assert {
        "ImaginTalk.py",
        "imagintalk_resolve/__init__.py",
        "imagintalk_resolve/place.py",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_standard_library_only_and_python_38_syntax(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 8))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            allowed = top in STDLIB or top in {"__future__", "imagintalk_resolve"}
            assert allowed, f"{path.name} imports {name}: only the standard library may be used"
