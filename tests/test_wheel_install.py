"""ImaginTalk installs like a plugin: the wheel alone carries the code, the demo model, the demo
scene and the editor bridges, and runs the main job without the checkout.

The sdist is built from this tree's files (what a clean clone holds, plus uncommitted edits), the
wheel from that sdist (as `python -m build` does), and the wheel goes into a fresh venv with
`--no-deps --no-index`. The third-party packages come from the test's own environment, whose
site-packages folder the fresh venv sees through a plain path line in a `.pth` file: a path line
does not run that folder's `.pth` files, so the checkout's editable finder never loads. Every
command runs from a temporary folder with no PYTHON* variables, and the checks confirm that
`imagintalk_plugin` and its data come from the fresh venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from shared_data import REPO

pytestmark = pytest.mark.slow

CLIP = "V1-001"  # one clip of the demo scene: the whole scene is tests/pipeline/test_demo_model.py
DATA = "imagintalk_plugin/data/"
SHIPPED = (
    "models/demo/README.md",
    "models/demo/dit/model.safetensors",
    "models/demo/dit/config.json",
    "demo/demo.otio",
    "demo/clips.json",
    "demo/media/line1_s000.mp4",
    "host_adapters/blender/imagintalk/__init__.py",
    "host_adapters/blender/imagintalk/blender_manifest.toml",
    "host_adapters/resolve/ImaginTalk.py",
    "host_adapters/resolve/imagintalk_resolve/__init__.py",
)
PIP = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
BUILD_SDIST = (
    "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
)
PROBE = """
import json, os, sys
import imagintalk_plugin
from imagintalk_plugin.core import paths
print(json.dumps({
    "package": imagintalk_plugin.__file__,
    "holding": [p for p in sys.path if os.path.isdir(os.path.join(p or ".", "imagintalk_plugin"))],
    "meta_path": [type(f).__name__ + repr(getattr(f, "__name__", "")) for f in sys.meta_path],
    "data": str(paths.data_dir()),
    "checkpoint": str(paths.default_checkpoint()),
    "timeline": str(paths.demo_timeline()),
    "videos": [str(p) for p in paths.demo_videos()],
    "bridges": str(paths.host_adapters_dir()),
}))
"""


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600):
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _copy_tree(source: Path) -> None:
    """This tree's files as a clone would have them: tracked and untracked, never ignored (without
    git: all but the venvs, caches, build outputs and local data and runs)."""
    if not (shutil.which("git") and (REPO / ".git").exists()):
        local = {"build", "dist", "runs", "data", "eval", "out"}  # top-level folders

        def ignore(folder: str, names: list[str]) -> set[str]:
            top = Path(folder) == REPO
            return {
                n
                for n in names
                if n.startswith(".")
                or n == "__pycache__"
                or n.endswith(".egg-info")
                or (top and n in local)
            }

        shutil.copytree(REPO, source, ignore=ignore)
        return
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in sorted({name for name in listed.split("\0") if name}):
        if (REPO / name).is_file():  # not deleted in the working tree
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)


def _build_wheel(work: Path) -> tuple[Path, Path]:
    """(sdist, wheel) of a copy of the tree: nothing of the checkout's build/ or egg-info."""
    source = work / "source"
    _copy_tree(source)
    dist = work / "dist"
    built = _run([sys.executable, "-c", BUILD_SDIST, str(dist)], cwd=source).stdout
    sdist = dist / built.strip().splitlines()[-1]
    wheel_options = ["--no-deps", "--no-index", "--no-build-isolation", "--wheel-dir", str(dist)]
    _run([*PIP, "wheel", *wheel_options, str(sdist)], cwd=work)
    (wheel,) = dist.glob("imagintalk-*.whl")
    return sdist, wheel


def _clean_env(home: Path, venv: Path) -> dict[str, str]:
    """No PYTHON* variables, no data folder override, caches and settings in `home`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") and key not in ("VIRTUAL_ENV", "IMAGINTALK_DATA_DIR")
    }
    env.update(
        PYTHONNOUSERSITE="1",
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "share"),
        QT_QPA_PLATFORM="offscreen",
    )
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("wheel")
    sdist, wheel = _build_wheel(work)
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    python = venv / "bin" / "python"
    _run(
        [*PIP, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        cwd=work,
    )
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=work
        ).stdout.strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "00_imagintalk_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    home = work / "home"
    run_dir = work / "elsewhere"
    run_dir.mkdir()
    return {
        "venv": venv,
        "python": python,
        "sdist": sdist,
        "wheel": wheel,
        "env": _clean_env(home, venv),
        "cwd": run_dir,
    }


def test_the_wheel_and_sdist_carry_the_shipped_data(installed: dict) -> None:
    wheel_names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    for name in SHIPPED:
        assert DATA + name in wheel_names, name
    media = [n for n in wheel_names if n.startswith(DATA + "demo/media/")]
    assert len(media) == 5
    assert DATA + "__init__.py" not in wheel_names  # data, not a package
    assert not [n for n in wheel_names if "__pycache__" in n or "/onnx/" in n]
    with tarfile.open(installed["sdist"]) as sdist:
        sdist_names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for name in SHIPPED:
        assert DATA + name in sdist_names, name


def test_the_installed_package_and_its_data_come_from_the_venv(installed: dict) -> None:
    venv = installed["venv"].resolve()
    probe = json.loads(
        _run([str(installed["python"]), "-c", PROBE], installed["cwd"], installed["env"]).stdout
    )
    assert Path(probe["package"]).resolve().is_relative_to(venv)
    for key in ("data", "checkpoint", "timeline", "bridges"):
        assert Path(probe[key]).resolve().is_relative_to(venv), key
    assert len(probe["videos"]) == 5
    # the checkout's package is on no import path, nor is its editable finder installed
    holding = [Path(p).resolve() for p in probe["holding"]]
    assert holding == [Path(probe["package"]).resolve().parents[1]]
    assert not [f for f in probe["meta_path"] if "editable" in f.lower()]


def test_dub_runs_the_main_job_on_the_demo_scene(installed: dict) -> None:
    """`imagintalk dub`: the shipped scene with the shipped model, the dub written here."""
    cwd, env = installed["cwd"], installed["env"]
    _run(["imagintalk", "dub", "--clips", CLIP, "--quiet"], cwd, env)
    output = cwd / "demo_dubbed.otio"
    assert output.is_file()
    urls = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if str(node.get("OTIO_SCHEMA", "")).startswith("ExternalReference"):
                urls.append(node["target_url"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(output.read_text()))
    takes = [Path(url.removeprefix("file://")) for url in urls if url.endswith(".wav")]
    assert len(takes) == 1, urls
    for take in takes:
        take = take if take.is_absolute() else cwd / take
        assert take.is_file()
        assert take.stat().st_size > 10_000
        assert take.resolve().is_relative_to(cwd.resolve())  # written here, not in the package
    pictures = [Path(url.removeprefix("file://")) for url in urls if url.endswith(".mp4")]
    assert len(pictures) == 5, urls
    for picture in pictures:  # the installed package's demo media
        assert picture.resolve().is_relative_to(installed["venv"].resolve()), picture


def test_install_host_copies_the_bridges_from_the_package(installed: dict) -> None:
    cwd, env = installed["cwd"], installed["env"]
    blender, resolve = cwd / "blender", cwd / "resolve"
    _run(["imagintalk", "install-host", "blender", "--dest", str(blender)], cwd, env)
    _run(["imagintalk", "install-host", "resolve", "--dest", str(resolve)], cwd, env)
    extension = blender / "imagintalk"
    for name in (
        "__init__.py",
        "blender_manifest.toml",
        "imagintalk_link.py",
        "imagintalk_otio.py",
    ):
        assert (extension / name).is_file(), name
    config = json.loads((extension / "imagintalk_config.json").read_text())
    assert Path(config["panel_command"][0]).parent == installed["venv"] / "bin"
    assert (resolve / "ImaginTalk.py").is_file()
    assert (resolve / "imagintalk_resolve" / "imagintalk_link.py").is_file()
