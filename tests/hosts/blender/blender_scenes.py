"""Building sequencer scenes for the bridge's tests (bpy only)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import bpy


def new_scene(name: str, fps: int, fps_base: float = 1.0, frame_start: int = 1) -> Any:
    """A fresh scene with a sequencer, made the window's scene (so operators see it)."""
    scene = bpy.data.scenes.new(name)
    scene.render.fps, scene.render.fps_base = fps, fps_base
    scene.frame_start = frame_start
    scene.frame_end = frame_start + 500
    scene.sequence_editor_create()
    bpy.context.window.scene = scene
    return scene


def strips(scene: Any) -> Any:
    """The top-level strips collection, whatever this Blender calls it."""
    editor = scene.sequence_editor
    collection = getattr(editor, "strips", None)
    return collection if collection is not None else editor.sequences


def add_movie(scene: Any, name: str, path: Path, channel: int, frame: int) -> Any:
    """A movie strip added the scripted way (`new_movie`: one movie frame per scene frame)."""
    strip = strips(scene).new_movie(name, str(path), channel, frame)
    strip.select = False
    return strip


def add_movie_like_the_ui(scene: Any, name: str, path: Path, channel: int, frame: int) -> Any:
    """A movie strip added by the Add > Movie operator (plays at the movie's own speed)."""
    window = bpy.context.window
    area = window.screen.areas[0]
    old_type, area.type = area.type, "SEQUENCE_EDITOR"
    region = next(r for r in area.regions if r.type == "WINDOW")
    try:
        with bpy.context.temp_override(window=window, area=area, region=region, scene=scene):
            bpy.ops.sequencer.movie_strip_add(
                filepath=str(path),
                frame_start=frame,
                channel=channel,
                sound=False,
                use_framerate=False,
                adjust_playback_rate=True,
            )
    finally:
        area.type = old_type
    strip = next(s for s in strips(scene) if s.type == "MOVIE" and s.channel == channel)
    strip.name = name
    strip.select = False
    return strip


def write_wav(path: Path, frames: int, fps: float, sample_rate: int = 48000) -> Path:
    """Silence lasting exactly `frames` frames at `fps` (to the sample)."""
    samples = round(frames / fps * sample_rate)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(b"\0\0" * samples)
    return path


def sound_strips(scene: Any) -> list[Any]:
    """The scene's sound strips, by start frame."""
    found = [s for s in strips(scene) if s.type == "SOUND"]
    return sorted(found, key=lambda s: (s.frame_final_start, s.channel))
