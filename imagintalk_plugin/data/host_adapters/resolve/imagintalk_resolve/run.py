"""The bridge from start to end: Resolve -> exported timeline -> panel -> placements.

Where takes go: `~/ImaginTalk/<project name>/` (or `$IMAGINTALK_RESOLVE_OUTPUT/<project
name>/`). Resolve keeps projects inside its database, not as files on disk, so there is no
folder "beside the project" to write into; a per-user folder named after the project keeps each
project's takes together, stays put when the database moves, and is easy to find from the
media pool (the "ImaginTalk" bin's clips point there). The exported timeline is written to its
`timelines/` subfolder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from . import app, export, place, session
from .errors import BridgeError

OUTPUT_ENV = "IMAGINTALK_RESOLVE_OUTPUT"


def main(
    resolve_app: Any = None,
    *,
    session_path: Path | None = None,
    output_root: Path | None = None,
    poll_interval: float = 0.1,
    out: Any = print,
) -> int:
    """Run the bridge; 0 when the panel closed normally, 1 after a one-line error.

    `resolve_app` is what the Scripts menu gave (`resolve`, or Fusion's `app`); None connects
    from outside (Resolve Studio). The keyword arguments are for tests.
    """
    try:
        _run(resolve_app, session_path or session.SESSION_FILE, output_root, poll_interval, out)
    except BridgeError as error:
        out(f"ImaginTalk: {error}")
        return 1
    return 0


def _run(
    resolve_app: Any, session_path: Path, output_root: Path | None, poll_interval: float, out: Any
) -> None:
    resolve, from_menu = app.connect(resolve_app)
    info = app.check(resolve, from_menu)
    for note in info.notes:
        out(f"ImaginTalk: {note}")
    project = resolve.GetProjectManager().GetCurrentProject()
    if project is None:
        raise BridgeError("no project is open in DaVinci Resolve: open one with a timeline")
    timeline = project.GetCurrentTimeline()
    if timeline is None:
        raise BridgeError(f"project '{project.GetName()}' has no timeline open: open one first")
    output_dir = output_folder(str(project.GetName()), output_root)
    target = output_dir / "timelines" / f"{safe_name(str(timeline.GetName()))}.otio"
    exported = export.export_timeline(resolve, timeline, target)
    if exported.note:
        out(f"ImaginTalk: {exported.note}")
    link = session.open_link(info.host_name, session_path, Path(__file__).parent, out)
    link.send(
        {
            "type": "open",
            "timeline": str(exported.path),
            "output_dir": str(output_dir),
            "dub": False,
            "host_name": info.host_name,
        }
    )
    out(f"ImaginTalk: timeline '{timeline.GetName()}' is open in the panel")
    session.serve(link, lambda p: place.place(project, timeline, p), out, poll_interval)


def output_folder(project_name: str, root: Path | None = None) -> Path:
    """Where a project's takes go (see the module docs), made when missing."""
    base = root or Path(os.environ.get(OUTPUT_ENV) or Path.home() / "ImaginTalk")
    folder = Path(base) / safe_name(project_name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(text: str) -> str:
    """A project or timeline name made safe as a file name on every OS."""
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:80] or "untitled"
