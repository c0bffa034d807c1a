"""The ImaginTalk tab in the Video Sequencer's sidebar (N): four actions and the session state."""

from __future__ import annotations

from typing import Any

import bpy

from . import session


class SequencerPanel(bpy.types.Panel):
    """Buttons for the bridge, and what the panel process last said."""

    bl_idname = "IMAGINTALK_PT_sequencer"
    bl_label = "ImaginTalk"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "ImaginTalk"

    def draw(self, _context: Any) -> None:
        """The actions, then status, progress, per-clip results and the last placement."""
        layout = self.layout
        column = layout.column(align=True)
        column.operator("imagintalk.dub_selected", icon="SPEAKER")
        column.operator("imagintalk.open_panel", icon="WINDOW")
        row = layout.row(align=True)
        row.operator("imagintalk.place_takes", icon="IMPORT")
        row.operator("imagintalk.cancel", icon="CANCEL")
        state = session.STATE
        box = layout.box()
        box.label(text=state.status, icon="LINKED" if session.is_linked() else "UNLINKED")
        if state.error:
            box.label(text=state.error, icon="ERROR")
        if state.finished:
            done = sum(1 for f in state.finished.values() if f.get("status") == "done")
            box.label(text=f"{done} of {len(state.finished)} finished clip(s) done")
            for clip_id, result in sorted(state.finished.items()):
                if result.get("status") != "done":
                    box.label(text=f"{clip_id}: {result.get('reason') or result.get('status')}")
        report = state.report
        if report:
            box.label(text=f"Placed {len(report.get('placed', []))} take(s)", icon="CHECKMARK")
            for failure in report.get("failed", []):
                box.label(text=f"{failure['clip_id']}: {failure['reason']}", icon="ERROR")


def register() -> None:
    """Register the sidebar panel."""
    bpy.utils.register_class(SequencerPanel)


def unregister() -> None:
    """Unregister the sidebar panel."""
    bpy.utils.unregister_class(SequencerPanel)
