"""Reach DaVinci Resolve and check that it can run the bridge.

Two ways in, per the Resolve scripting README ("Using a script"):

- from Workspace > Scripts (the normal way): Resolve runs `ImaginTalk.py` with `resolve` (and
  Fusion's `app`, whose `GetResolve()` returns the same object) as globals; the entry script
  passes whichever it found to `connect`;
- from a terminal ("external scripting"): `DaVinciResolveScript.scriptapp("Resolve")`, the
  module found through `RESOLVE_SCRIPT_API` (its `Modules` folder) and the library through
  `RESOLVE_SCRIPT_LIB`, both defaulting to the install paths the README gives per OS.

Requirements checked by `check`: the product is DaVinci Resolve (`GetProductName`, not Fusion
Studio), version 18.5 or later (`GetVersion`, else `GetVersionString`; 18.5 added
`resolve.EXPORT_OTIO`), and the edition. The README says the API is "a common superset of
functions for both the Free and Studio versions", but external scripting (Preferences > System >
General > External scripting using) is a Studio feature, so the free edition is refused from a
terminal and accepted from the Scripts menu. Users report that free 21.1 no longer lists Python
scripts in that menu at all; nothing here can change that.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .calls import call
from .errors import BridgeError

MIN_VERSION = (18, 5)
PRODUCT = "DaVinci Resolve"

# The README's install paths for external scripting, per OS.
_API_DEFAULTS = {
    "darwin": "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Developer/Scripting",
    "win32": r"%PROGRAMDATA%\Blackmagic Design\DaVinci Resolve\Support\Developer\Scripting",
    "linux": "/opt/resolve/Developer/Scripting",
}
_LIB_DEFAULTS = {
    "darwin": (
        "/Applications/DaVinci Resolve/DaVinci Resolve.app/Contents/Libraries/Fusion/"
        "fusionscript.so"
    ),
    "win32": r"C:\Program Files\Blackmagic Design\DaVinci Resolve\fusionscript.dll",
    "linux": "/opt/resolve/libs/Fusion/fusionscript.so",
}


@dataclass(frozen=True)
class ResolveInfo:
    """What runs the bridge: product, version, edition, and whether it came from the menu."""

    product: str  # "DaVinci Resolve Studio" or "DaVinci Resolve"
    version: tuple[int, ...]  # (19, 1, 3, 7)
    version_text: str  # "19.1.3.7"
    studio: bool
    from_menu: bool
    notes: tuple[str, ...] = ()

    @property
    def host_name(self) -> str:
        """How the panel shows this host, e.g. "DaVinci Resolve Studio 19.1.3.7"."""
        return f"{self.product} {self.version_text}".strip()


def connect(injected: Any = None) -> tuple[Any, bool]:
    """The `resolve` object and whether it came from the Scripts menu (`injected`).

    `injected` is the menu script's `resolve` global, or Fusion's `app`/`fusion` (from which
    `GetResolve()` gives it); None means a terminal run, which goes through `scriptapp`.
    """
    if injected is not None:
        if callable(getattr(injected, "GetProjectManager", None)):
            return injected, True
        get_resolve = getattr(injected, "GetResolve", None)
        resolve = get_resolve() if callable(get_resolve) else None
        if resolve is None:
            raise BridgeError("the Scripts menu gave no Resolve object: run ImaginTalk again")
        return resolve, True
    module = _script_module()
    resolve = module.scriptapp("Resolve")
    if resolve is None:
        raise BridgeError(
            "cannot reach DaVinci Resolve: start it, and in Preferences > System > General set "
            "'External scripting using' to Local (DaVinci Resolve Studio only; in the free "
            "edition run Workspace > Scripts > ImaginTalk instead)"
        )
    return resolve, False


def _script_module() -> Any:
    """`DaVinciResolveScript`, from the path or from RESOLVE_SCRIPT_API's Modules folder."""
    try:
        return importlib.import_module("DaVinciResolveScript")
    except ImportError:
        pass
    platform = "win32" if sys.platform.startswith("win") else sys.platform
    platform = platform if platform in _API_DEFAULTS else "linux"
    api = os.environ.get("RESOLVE_SCRIPT_API") or os.path.expandvars(_API_DEFAULTS[platform])
    os.environ.setdefault("RESOLVE_SCRIPT_LIB", _LIB_DEFAULTS[platform])
    modules = str(Path(api) / "Modules")
    if modules not in sys.path:
        sys.path.append(modules)
    try:
        return importlib.import_module("DaVinciResolveScript")
    except ImportError:
        raise BridgeError(
            f"DaVinci Resolve's scripting module was not found in {modules}: set "
            "RESOLVE_SCRIPT_API (and RESOLVE_SCRIPT_LIB) as the Resolve scripting README says, "
            "or run ImaginTalk from Workspace > Scripts inside Resolve"
        ) from None


def check(resolve: Any, from_menu: bool) -> ResolveInfo:
    """Product, version (18.5+) and edition, or a one-line `BridgeError`."""
    product = str(call(resolve, "GetProductName") or "").strip()
    if not product.startswith(PRODUCT):
        raise BridgeError(f"ImaginTalk runs in DaVinci Resolve, not in '{product or 'unknown'}'")
    version, text = read_version(resolve)
    if not version:
        raise BridgeError(f"cannot read the version of {product}: ImaginTalk needs 18.5 or later")
    if version[:2] < MIN_VERSION:
        raise BridgeError(
            f"ImaginTalk needs DaVinci Resolve 18.5 or later (for its OpenTimelineIO export); "
            f"this is {product} {text}"
        )
    studio = "studio" in product.lower()
    notes: tuple[str, ...] = ()
    if not studio:
        if not from_menu:
            raise BridgeError(
                "the free DaVinci Resolve does not allow external scripting: run ImaginTalk "
                "from Workspace > Scripts > ImaginTalk inside Resolve (or use Resolve Studio)"
            )
        note = "free edition: ImaginTalk works from Workspace > Scripts only (external "
        notes = (note + "scripting needs Resolve Studio)",)
    return ResolveInfo(product, version, text, studio, from_menu, notes)


def read_version(resolve: Any) -> tuple[tuple[int, ...], str]:
    """(numbers, text) from `GetVersion()` ([major, minor, patch, build, suffix], a list, or a
    dict keyed 1.0, 2.0 ... as Lua tables arrive in Python), else from `GetVersionString()`."""
    fields = call(resolve, "GetVersion")
    if isinstance(fields, dict):
        fields = [fields[key] for key in sorted(fields)]
    numbers: list[int] = []
    for field in fields if isinstance(fields, (list, tuple)) else []:
        if isinstance(field, (int, float)) and not isinstance(field, bool):
            numbers.append(int(field))
        else:
            break
    text = str(call(resolve, "GetVersionString") or "").strip()
    if not numbers and text:
        numbers = [int(part) for part in re.findall(r"\d+", text.split()[0])]
    if not text:
        text = ".".join(str(n) for n in numbers)
    return tuple(numbers), text
