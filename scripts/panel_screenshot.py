"""Save a screenshot of the ImaginTalk panel with a generated take on the demo scene.

Usage: .venv/bin/python scripts/panel_screenshot.py [-o docs/panel.png] [--checkpoint DIR]
       [--timeline FILE] [--size 1400x900] [--timeout 600]

Opens the panel offscreen (unless QT_QPA_PLATFORM says otherwise) on the demo timeline with the
shipped demo model (package data), generates the first online clip on the panel's own worker
thread, selects it so the inspect views draw its units, prosody, waveform and mouths and the
audition shows its picture, and saves the window as a PNG. Settings go to a throwaway file, not
the user's. On failure it prints one line to stderr and exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")

ROOT = Path(__file__).resolve().parents[1]


def wait_for(app: object, done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until `done()` or the timeout; whether it became true."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        if done():
            return True
        time.sleep(0.02)
    return done()


def size(text: str) -> tuple[int, int]:
    """`1400x900` -> (1400, 900)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size '{text}' is not WIDTHxHEIGHT") from err
    return width, height


def shoot(args: argparse.Namespace) -> str:
    """Make the screenshot; returns what was saved (raises RuntimeError on failure)."""
    from PySide6.QtCore import QSettings

    from imagintalk_plugin.core.paths import demo_timeline
    from imagintalk_plugin.panel_model.controller import PanelController
    from imagintalk_plugin.panel_model.state import FAILED, OFFLINE
    from imagintalk_plugin.ui.app import application
    from imagintalk_plugin.ui.panel import PanelWindow

    app = application()
    with tempfile.TemporaryDirectory(prefix="imagintalk-shot-") as tmp:
        store = QSettings(str(Path(tmp) / "panel.ini"), QSettings.Format.IniFormat)
        window = PanelWindow(PanelController(keep_session=False), store=store)  # no saved takes
        try:
            if args.checkpoint is not None:
                window.settings_box.use_checkpoint(args.checkpoint)
            window.resize(*args.size)
            window.show()
            timeline = args.timeline or demo_timeline()
            if not window.open_timeline(timeline):
                raise RuntimeError(window.statusBar().currentMessage())
            controller = window.controller
            online = [i for i in controller.clip_ids() if controller.clip(i).status != OFFLINE]
            if not online:
                raise RuntimeError(f"{timeline} has no online clip to generate")
            first = online[0]
            window.clip_table.select([first])
            if not window.run([first]):
                raise RuntimeError(window.statusBar().currentMessage())
            state = controller.clip(first)
            finished = wait_for(
                app,
                lambda: (
                    (bool(state.takes) or state.status == FAILED or window.banner.isVisible())
                    and not controller.busy()
                ),
                args.timeout,
            )
            if window.banner.isVisible():
                raise RuntimeError(window.banner.text().splitlines()[0])
            if state.status == FAILED:
                raise RuntimeError(f"clip {first} failed: {state.error}")
            if not finished or not state.takes:
                raise RuntimeError(f"clip {first} had no take after {args.timeout:g} s")
            window.clip_table.select([first])
            speech = state.takes[-1].speech
            window.audition.seek(0.4 * speech.waveform.num_samples / speech.waveform.sample_rate)
            wait_for(
                app,
                lambda: (
                    window.clip_table.thumbnails.pending() == 0
                    and (window.audition.frames_shown > 0 or not window.audition.available)
                ),
                20.0,
            )
            wait_for(app, lambda: False, 0.5)  # let the last frame and repaints land
            out = Path(args.output)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(out)):
                raise RuntimeError(f"cannot write {out}")
            return f"wrote {out} ({window.width()}x{window.height()}, clip {first})"
        finally:
            window.close()
            app.processEvents()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "panel.png")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR", help="default: the demo model")
    parser.add_argument("--timeline", type=Path, metavar="FILE", help="default: the demo scene")
    parser.add_argument("--size", type=size, default=(1400, 900), metavar="WxH")
    parser.add_argument("--timeout", type=float, default=600.0, metavar="S")
    args = parser.parse_args(argv)
    try:
        print(shoot(args))
    except Exception as err:  # one line, whatever went wrong
        text = " ".join(str(err).split()) or type(err).__name__
        sys.stderr.write(f"panel_screenshot: {text}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
