"""The sequencer API differences between Blender 4.2-4.5 and 5.x, in one place.

- Strips: 4.2-4.3 name the collections `sequence_editor.sequences` / `sequences_all`; 4.4 adds
  `strips` / `strips_all` beside them; 5.0 drops the old names. `new_movie` / `new_sound` live
  on whichever top-level collection there is.
- Scene: 5.0 lets the sequencer show another scene than the window's (`context.sequencer_scene`,
  set per workspace); 4.x has only `context.scene`.
- Channels: `sequence_editor.channels[n]` is channel n (index 0 is unused), with a `name`.
- Source trims ("hold offsets"): `animation_offset_start` / `_end` up to 5.0; newer releases
  name them `content_trim_start` / `_end` (the old names are deprecated, to go in 6.0).
"""

from __future__ import annotations

import contextlib
from typing import Any

MAX_CHANNEL = 128  # Blender's channel limit since 3.0


def sequencer_scene(context: Any) -> Any:
    """The scene whose sequencer the user works in (5.x: the workspace's sequencer scene)."""
    scene = getattr(context, "sequencer_scene", None)
    return scene if scene is not None else context.scene


def editor(scene: Any, create: bool = False) -> Any:
    """The scene's sequence editor; made when `create` and missing, else None when missing."""
    if scene.sequence_editor is None and create:
        scene.sequence_editor_create()
    return scene.sequence_editor


def top_strips(seq_editor: Any) -> Any:
    """Top-level strips (not inside meta strips): the collection with `new_movie` etc."""
    strips = getattr(seq_editor, "strips", None)
    return strips if strips is not None else seq_editor.sequences


def all_strips(seq_editor: Any) -> Any:
    """Every strip, including those inside meta strips."""
    strips = getattr(seq_editor, "strips_all", None)
    return strips if strips is not None else seq_editor.sequences_all


def content_trim(strip: Any) -> tuple[int, int]:
    """Media frames cut off the start and the end of a strip's movie (hold offsets)."""
    if hasattr(strip, "content_trim_start"):
        return int(strip.content_trim_start), int(strip.content_trim_end)
    return int(strip.animation_offset_start), int(strip.animation_offset_end)


def channel_name(seq_editor: Any, channel: int) -> str:
    """The name the sequencer shows for a channel ("Channel 3" unless renamed)."""
    try:
        return str(seq_editor.channels[channel].name)
    except (AttributeError, IndexError, KeyError):
        return f"Channel {channel}"


def set_channel_name(seq_editor: Any, channel: int, name: str) -> None:
    """Rename a channel where this Blender has named channels (3.2+)."""
    with contextlib.suppress(AttributeError, IndexError, KeyError):
        seq_editor.channels[channel].name = name


def channel_muted(seq_editor: Any, channel: int) -> bool:
    """Whether a whole channel is muted (its strips are not seen or heard)."""
    try:
        return bool(seq_editor.channels[channel].mute)
    except (AttributeError, IndexError, KeyError):
        return False
