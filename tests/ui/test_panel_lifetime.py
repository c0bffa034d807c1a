"""A killed panel leaves nothing behind: the panel runs as its own process (`imagintalk panel`'s
entry point) with the face helper started, is sent SIGTERM or SIGKILL, and afterwards none of
its child processes (the face helper, multiprocessing's resource tracker) is left running; its
audition folder is gone after SIGTERM, and after SIGKILL the next panel's start removes it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagintalk_plugin.ui.audition_media import process_alive, remove_stale_folders

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# The panel's own `main`, plus one report once its window is up: pids and the audition folder.
DRIVER = """
import json, sys
from PySide6.QtCore import QTimer
from imagintalk_plugin.frontend import face_embedding_process as helper
from imagintalk_plugin.ui import app
from imagintalk_plugin.ui.panel import PanelWindow

qapp = app.application()

def report():
    window = next(w for w in qapp.topLevelWidgets() if isinstance(w, PanelWindow))
    folder = window.audition.media.folder
    (folder / "take.wav").write_bytes(b"RIFF")  # as if a take were being auditioned
    print(json.dumps({"helper": helper.start_helper(), "audition": str(folder)}), flush=True)

QTimer.singleShot(0, report)
sys.exit(app.main(sys.argv[1:]))
"""


def _children(pid: int) -> dict[int, str]:
    """Every descendant of `pid`: pid -> command line."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                try:
                    cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    cmd = b""
                found[child] = cmd.decode(errors="replace")
                frontier.append(child)
    return found


def _start(scene: Path, checkpoint: Path, tmp_path: Path) -> tuple[subprocess.Popen, dict]:
    env = os.environ | {
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # not the user's panel settings
        "TMPDIR": str(tmp_path),
    }
    panel = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(scene), "--checkpoint", str(checkpoint)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    ready, _, _ = select.select([panel.stdout], [], [], 120)
    if not ready:
        panel.kill()
        pytest.fail("the panel process did not report within 120 s")
    return panel, json.loads(panel.stdout.readline())


def _wait_gone(pids: list[int], timeout_s: float = 15.0) -> list[int]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        alive = [p for p in pids if process_alive(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_panel_leaves_nothing_behind(scene, checkpoint, tmp_path, how) -> None:
    panel, report = _start(scene, checkpoint, tmp_path)
    folder = Path(report["audition"])
    children = _children(panel.pid)
    assert report["helper"] in children
    trackers = [p for p, cmd in children.items() if "resource_tracker" in cmd]
    assert trackers, children  # what must end with the panel, besides the helper
    assert folder.is_dir()
    assert folder.parent == tmp_path
    assert folder.name.startswith(f"imagintalk-audition-{panel.pid}-")

    panel.send_signal(how)
    code = panel.wait(timeout=60)
    left = _wait_gone(list(children))
    assert left == [], {p: children[p] for p in left}
    if how == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM  # closed itself, as its close button does
        assert not folder.exists()
    else:
        assert code == -signal.SIGKILL
        assert folder.is_dir()  # nothing could run; the next panel cleans it up
        mine = tmp_path / f"imagintalk-audition-{os.getpid()}-live"
        mine.mkdir()  # a live panel's folder stays
        assert remove_stale_folders(tmp_path) == [folder]
        assert not folder.exists()
        assert mine.is_dir()


def test_the_next_panel_removes_a_killed_panels_folder(scene, checkpoint, tmp_path) -> None:
    panel, report = _start(scene, checkpoint, tmp_path)
    panel.kill()
    panel.wait(timeout=60)
    folder = Path(report["audition"])
    assert folder.is_dir()
    again, second = _start(scene, checkpoint, tmp_path)  # a new panel, as a user would start
    try:
        assert not folder.exists()
        assert Path(second["audition"]).is_dir()
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=60)
