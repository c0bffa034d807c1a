"""The sequencer operators: dub the selection, open the panel, place takes, cancel.

Each one does its Blender-side part at once (exporting the strips is quick) and hands the rest to
the link session, which runs on a timer; failures come back as one line via `self.report`.
"""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, imagintalk_link, otio_export, session


def _export_and_open(context: Any, selected_only: bool) -> str:
    """Export the sequencer scene and open it in the panel; returns a one-line summary."""
    scene = compat.sequencer_scene(context)
    out_dir = session.output_dir()
    timeline = out_dir / f"{_safe(scene.name)}.otio"
    result = otio_export.export_timeline(scene, timeline, selected_only, bpy.path.abspath)
    session.open_panel(scene, result.path, out_dir, dub=selected_only)
    what = "dubbing" if selected_only else "opening"
    summary = f"ImaginTalk: {what} {len(result.strips)} movie strip(s)"
    if result.skipped:
        summary += f"; left out {'; '.join(result.skipped)}"
    noted = [f"{name}: {', '.join(notes)}" for name, notes in result.notes.items() if notes]
    if noted:
        summary += f"; note {'; '.join(noted)}"
    return summary


def _safe(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
    return kept or "timeline"


class DubSelected(bpy.types.Operator):
    """Send the selected movie strips to ImaginTalk and generate speech for them"""

    bl_idname = "imagintalk.dub_selected"
    bl_label = "Dub selected strips"

    def execute(self, context: Any) -> set[str]:
        """Export the selection and start dubbing it."""
        return _run(self, lambda: _export_and_open(context, selected_only=True))


class OpenPanel(bpy.types.Operator):
    """Open the ImaginTalk panel on all movie strips of this scene"""

    bl_idname = "imagintalk.open_panel"
    bl_label = "Open ImaginTalk panel"

    def execute(self, context: Any) -> set[str]:
        """Export every movie strip and show them in the panel."""
        return _run(self, lambda: _export_and_open(context, selected_only=False))


class PlaceTakes(bpy.types.Operator):
    """Place the finished takes as sound strips under their movie strips"""

    bl_idname = "imagintalk.place_takes"
    bl_label = "Place takes"

    def execute(self, _context: Any) -> set[str]:
        """Ask the panel for the takes; they are placed when they arrive."""

        def request() -> str:
            session.request_placement()
            return "ImaginTalk: asked the panel for the takes"

        return _run(self, request)


class Cancel(bpy.types.Operator):
    """Stop dubbing (clips already done are kept)"""

    bl_idname = "imagintalk.cancel"
    bl_label = "Cancel"

    def execute(self, _context: Any) -> set[str]:
        """Ask the panel to cancel."""

        def cancel() -> str:
            session.cancel()
            return "ImaginTalk: cancelling"

        return _run(self, cancel)


def _run(operator: bpy.types.Operator, action: Any) -> set[str]:
    """Run `action`, reporting its summary, or its failure as one line."""
    try:
        summary = action()
    except (otio_export.ExportError, imagintalk_link.LinkError, OSError) as error:
        operator.report({"ERROR"}, f"ImaginTalk: {error}")
        return {"CANCELLED"}
    operator.report({"INFO"}, summary)
    return {"FINISHED"}


CLASSES = (DubSelected, OpenPanel, PlaceTakes, Cancel)


def register() -> None:
    """Register the operators."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    """Unregister the operators."""
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
