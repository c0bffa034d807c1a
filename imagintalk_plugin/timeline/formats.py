"""Which interchange format a file is, from its name and, when that is not enough, its bytes.

Editors rename files and tools write `.xml` for both Final Cut Pro 7 XML (`<xmeml>`) and
FCPXML (`<fcpxml>`), and OTIO JSON often arrives as `.json`; so the suffix is a first guess and
the file's first bytes decide.
"""

from __future__ import annotations

import re
from pathlib import Path

# format key -> (label for messages, OTIO adapter name or None for our own EDL path)
FORMATS: dict[str, tuple[str, str | None]] = {
    "otio_json": ("OpenTimelineIO JSON", "otio_json"),
    "otioz": ("OpenTimelineIO zip bundle", "otioz"),
    "otiod": ("OpenTimelineIO directory bundle", "otiod"),
    "cmx_3600": ("CMX 3600 EDL", None),
    "fcp_xml": ("Final Cut Pro 7 XML", "fcp_xml"),
    "fcpx_xml": ("FCPXML", "fcpx_xml"),
    "aaf": ("AAF", "AAF"),
}
_SUFFIXES = {
    ".otio": "otio_json",
    ".json": "otio_json",
    ".otioz": "otioz",
    ".otiod": "otiod",
    ".edl": "cmx_3600",
    ".fcpxml": "fcpx_xml",
    ".aaf": "aaf",
}
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # AAF is a Microsoft compound file
_ZIP_MAGIC = b"PK\x03\x04"
_EDL_EVENT = re.compile(rb"^\s*\d{3,}\s+\S+\s+\S+\s+\S+", re.MULTILINE)

SUPPORTED_SUFFIXES = (*_SUFFIXES, ".xml")


def sniff_format(path: Path, head: bytes) -> str | None:
    """The format key for a file given its first bytes, or None when it is none we read."""
    suffix = path.suffix.lower()
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if path.is_dir():
        return "otiod" if suffix == ".otiod" else None
    if head.startswith(_OLE_MAGIC):
        return "aaf"
    if head.startswith(_ZIP_MAGIC):
        return "otioz"
    if text.startswith(b"{") or text.startswith(b"["):
        return "otio_json" if b"OTIO_SCHEMA" in head else None
    if text.startswith(b"<"):
        lowered = head.lower()
        if b"<xmeml" in lowered:
            return "fcp_xml"
        if b"<fcpxml" in lowered:
            return "fcpx_xml"
        return _SUFFIXES.get(suffix) if suffix in (".fcpxml",) else None
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if _EDL_EVENT.search(head) or text.upper().startswith(b"TITLE:"):
        return "cmx_3600"
    return None


def format_label(key: str) -> str:
    """Human name of a format key ("Final Cut Pro 7 XML")."""
    return FORMATS[key][0]
