"""ImaginTalk's bridge inside DaVinci Resolve (standard library + Resolve's scripting API only).

`main(resolve)` exports the current timeline as OpenTimelineIO, opens it in the ImaginTalk
panel (a separate process, reached over localhost with `imagintalk_link`), and places the audio
the panel sends back on new audio tracks. Installed by `imagintalk install-host resolve`, which
adds `imagintalk_link.py`, `imagintalk_otio.py` (the stdlib OTIO writer the Blender bridge
uses too) and `imagintalk_config.json` to this folder. Python 3.8+.

Modules, one concern each: `app` (reach and check Resolve), `export` (timeline to OTIO),
`place` (placements to audio tracks, read back), `session` (find or start the panel, the
message loop), `run` (`main`), `rates`, `calls`, `errors`.
"""

from __future__ import annotations

from .run import main

__all__ = ["main"]
