"""Read OTIO JSON written with schema versions this OpenTimelineIO does not know.

OTIO refuses a whole file when one object carries a schema version it lacks (for example
`Marker.3`, which adds a structured `color`, written by newer OTIO builds and found in real
sample files). When the newer version only adds fields, we rewrite those objects to the version
this OTIO knows and say so in a note, instead of refusing the user's timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import opentimelineio as otio


def _marker_3_to_2(obj: dict[str, Any]) -> dict[str, Any]:
    color = obj.get("color")
    if isinstance(color, dict):  # Marker.3: Color object; Marker.2: a colour name
        obj["color"] = str(color.get("name") or "RED").upper()
    obj["OTIO_SCHEMA"] = "Marker.2"
    return obj


_DOWNGRADES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Marker.3": _marker_3_to_2,
}


def downgrade(tree: Any, seen: set[str]) -> Any:
    """Rewrite known newer schema objects in a parsed OTIO JSON tree, recording which."""
    if isinstance(tree, list):
        return [downgrade(item, seen) for item in tree]
    if not isinstance(tree, dict):
        return tree
    out = {key: downgrade(value, seen) for key, value in tree.items()}
    schema = out.get("OTIO_SCHEMA")
    if schema in _DOWNGRADES and _is_newer(schema):
        seen.add(schema)
        out = _DOWNGRADES[schema](out)
    return out


def _is_newer(schema: str) -> bool:
    name, _, version = schema.rpartition(".")
    known = otio.core.type_version_map().get(name)
    return known is not None and int(version) > int(known)


def read_newer_otio_json(text: str) -> tuple[otio.core.SerializableObject, list[str]]:
    """Parse OTIO JSON that failed with UnsupportedSchemaError; returns (object, notes)."""
    import json

    seen: set[str] = set()
    tree = downgrade(json.loads(text), seen)
    if not seen:
        raise otio.exceptions.UnsupportedSchemaError("schema versions newer than this OTIO")
    result = otio.adapters.read_from_string(json.dumps(tree), adapter_name="otio_json")
    notes = [f"read objects of newer schema {', '.join(sorted(seen))} as the version known here"]
    return result, notes
