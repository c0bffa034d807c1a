"""OpenTimelineIO JSON written with the standard library, for the host bridges (an editor's
own Python has no OTIO).

Standard library only and self-contained, like `protocol.py`: `imagintalk install-host` copies
this file into each bridge as `imagintalk_otio.py`, so Blender and Resolve export with one
writer. Python 3.8 syntax (Resolve's floor).

The shapes are the ones `opentimelineio` 0.17/0.18 writes (`Timeline.1`, `Stack.1`, `Track.1`,
`Gap.1`, `Clip.2` with `media_references` + `active_media_reference_key`, the references
`ExternalReference.1`, `ImageSequenceReference.1`, `MissingReference.1` and
`GeneratorReference.1`, `LinearTimeWarp.1`, `TimeRange.1`, `RationalTime.1`), checked field for
field against what `opentimelineio` writes in both bridges' tests.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # an alias for annotations only: Resolve's Python may be older than 3.9
    Json = dict[str, Any]
DEFAULT_MEDIA = "DEFAULT_MEDIA"
# Resolve names an image sequence "name.[1000-1100].ext" (frame numbers in brackets).
_SEQUENCE = re.compile(r"^(?P<prefix>.*?)\[(?P<first>\d+)-(?P<last>\d+)\](?P<suffix>[^\[\]]*)$")


def rational_time(value: float, rate: Fraction | float) -> Json:
    """A `RationalTime.1` of `value` frames at `rate`."""
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": float(rate), "value": float(value)}


def time_range(
    start: float,
    duration: float,
    rate: Fraction | float,
    start_rate: Fraction | float | None = None,
) -> Json:
    """A `TimeRange.1` in frames at `rate` (its start at `start_rate` when given: a clip's
    first media frame at the media's rate, its length at the timeline's)."""
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "duration": rational_time(duration, rate),
        "start_time": rational_time(start, rate if start_rate is None else start_rate),
    }


def _item(schema: str, name: str, source_range: Json | None, enabled: bool = True) -> Json:
    return {
        "OTIO_SCHEMA": schema,
        "metadata": {},
        "name": name,
        "source_range": source_range,
        "effects": [],
        "markers": [],
        "enabled": enabled,
        "color": None,
    }


def gap(frames: int, rate: Fraction | float) -> Json:
    """A `Gap.1` of `frames` at `rate`."""
    return _item("Gap.1", "", time_range(0, frames, rate))


def clip(name: str, source: Json, media: Json, enabled: bool = True) -> Json:
    """A `Clip.2` showing `source` (a time range) of `media` (a media reference)."""
    data = _item("Clip.2", name, source, enabled)
    data["media_references"] = {DEFAULT_MEDIA: media}
    data["active_media_reference_key"] = DEFAULT_MEDIA
    return data


def media_reference(path: str, available: Json | None, rate: Fraction | float) -> Json:
    """The reference for a media path: an image sequence for Resolve's "name.[a-b].ext"
    spelling, a missing reference for an empty path, else an external reference."""
    if not path:
        return {"OTIO_SCHEMA": "MissingReference.1", "metadata": {}, "name": "",
                "available_range": available, "available_image_bounds": None}  # fmt: skip
    folder, base = _split(path)
    match = _SEQUENCE.match(base)
    if match:
        return {
            "OTIO_SCHEMA": "ImageSequenceReference.1",
            "metadata": {},
            "name": base,
            "available_range": available,
            "available_image_bounds": None,
            "target_url_base": folder,
            "name_prefix": match["prefix"],
            "name_suffix": match["suffix"],
            "start_frame": int(match["first"]),
            "frame_step": 1,
            "rate": float(rate),
            "frame_zero_padding": len(match["first"]),
            "missing_frame_policy": "error",
        }
    return {
        "OTIO_SCHEMA": "ExternalReference.1",
        "metadata": {},
        "name": base,
        "available_range": available,
        "available_image_bounds": None,
        "target_url": path,
    }


def generator_reference(kind: str, available: Json | None) -> Json:
    """A `GeneratorReference.1`: an item with no media (a title, a solid), nothing to dub."""
    return {
        "OTIO_SCHEMA": "GeneratorReference.1",
        "metadata": {},
        "name": kind,
        "available_range": available,
        "available_image_bounds": None,
        "generator_kind": kind,
        "parameters": {},
    }


def time_warp(scalar: float) -> Json:
    """A `LinearTimeWarp.1` effect: the media plays at `scalar` times its speed."""
    return {
        "OTIO_SCHEMA": "LinearTimeWarp.1",
        "metadata": {},
        "name": "",
        "effect_name": "LinearTimeWarp",
        "enabled": True,
        "time_scalar": scalar,
    }


def _split(path: str) -> tuple[str, str]:
    """(folder, file name) of a Windows or POSIX path, whichever OS this runs on."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut], path[cut + 1 :]


def track(name: str, kind: str, children: list[Json], enabled: bool = True) -> Json:
    """A `Track.1` of `kind` ("Video" or "Audio")."""
    data = _item("Track.1", name, None, enabled)
    data["children"] = children
    data["kind"] = kind
    return data


def timeline(
    name: str, start_frame: int, rate: Fraction | float, tracks: list[Json], metadata: Json
) -> Json:
    """A `Timeline.1` starting at `start_frame` (its `global_start_time`) at `rate`."""
    stack = _item("Stack.1", "tracks", None)
    stack["children"] = tracks
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "metadata": metadata,
        "name": name,
        "global_start_time": rational_time(start_frame, rate),
        "tracks": stack,
    }


def write(data: Json, path: Path) -> None:
    """Write `data` as indented JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=4)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink()
        raise
