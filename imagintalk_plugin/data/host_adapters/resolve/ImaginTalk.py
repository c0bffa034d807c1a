"""ImaginTalk: speech for the silent clips of the current timeline (Workspace > Scripts).

`imagintalk install-host resolve` copies this file and the `imagintalk_resolve` package into
Resolve's Fusion/Scripts/Utility folder, so it is listed on every page as Workspace > Scripts >
ImaginTalk. Resolve runs it with `resolve` (and Fusion's `app`) as globals; run from a terminal
it connects through external scripting instead (DaVinci Resolve Studio only). Output goes to
Workspace > Console.
"""

import sys
from pathlib import Path

PACKAGE = "imagintalk_resolve"


def _bridge_folder() -> Path:
    """The folder holding this script and the `imagintalk_resolve` package.

    `__file__` where Resolve defines it; else the script path in `sys.argv`; else the per-user
    and all-users Scripts/Utility folders the Resolve scripting README lists.
    """
    candidates = []
    if globals().get("__file__"):
        candidates.append(Path(__file__).resolve().parent)
    argv = getattr(sys, "argv", None)  # an embedded interpreter may have none
    if argv and argv[0]:
        candidates.append(Path(argv[0]).resolve().parent)
    home, utility = Path.home(), Path("Fusion", "Scripts", "Utility")
    bmd = Path("Blackmagic Design", "DaVinci Resolve")
    candidates += [
        home / "Library" / "Application Support" / bmd / utility,
        home / "AppData" / "Roaming" / bmd / "Support" / utility,
        home / ".local" / "share" / "DaVinciResolve" / utility,
        Path("/Library/Application Support") / bmd / utility,
        Path("/opt/resolve") / utility,
        Path("/home/resolve") / utility,
    ]
    for folder in candidates:
        if (folder / PACKAGE / "__init__.py").is_file():
            return folder
    raise RuntimeError(f"the '{PACKAGE}' folder is missing: run `imagintalk install-host resolve`")


def _resolve_from_globals() -> object:
    """What Resolve's Scripts menu injected: `resolve`, else Fusion's `app`/`fusion`; None when
    run from a terminal."""
    scope = globals()
    for name in ("resolve", "app", "fusion"):
        if scope.get(name) is not None:
            return scope[name]
    return None


def run() -> int:
    """Put the package on the path and run the bridge; 0 on success, 1 after an error."""
    folder = str(_bridge_folder())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import imagintalk_resolve

    return imagintalk_resolve.main(_resolve_from_globals())


if __name__ != "ImaginTalk":  # run by Resolve or a terminal, not imported by name (tests)
    _code = run()
    if __name__ == "__main__" and _resolve_from_globals() is None:
        sys.exit(_code)  # a terminal run: the exit status says how it went
