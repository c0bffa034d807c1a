"""ImaginTalk for Blender's Video Sequencer (a Blender 4.2+ extension).

Exports movie strips as OpenTimelineIO, starts or finds the ImaginTalk panel (a process of its
own: no heavy code runs in Blender's Python) and places the generated takes as sound strips.
`imagintalk install-host blender` installs this folder with `imagintalk_link.py` (the link
protocol) and `imagintalk_config.json` (how to start the panel) beside these files.
"""

from __future__ import annotations

from . import operators, session, ui_panel


def register() -> None:
    """Register the operators and the sidebar panel."""
    operators.register()
    ui_panel.register()


def unregister() -> None:
    """Close the link and unregister everything."""
    session.shutdown()
    ui_panel.unregister()
    operators.unregister()
