"""Reaching Resolve and checking product, version and edition; the one-line errors of main."""

from __future__ import annotations

import sys
import types
from fractions import Fraction

import pytest
from resolve_standin import FusionApp, Project, Resolve, Timeline


@pytest.fixture
def external(monkeypatch):
    """Makes `DaVinciResolveScript.scriptapp("Resolve")` return the given stand-in."""

    def install(resolve):
        module = types.ModuleType("DaVinciResolveScript")
        module.scriptapp = lambda name: resolve if name == "Resolve" else None
        monkeypatch.setitem(sys.modules, "DaVinciResolveScript", module)

    return install


@pytest.mark.parametrize(
    ("version", "text"), [("18.5", "18.5.1.6"), ("19", "19.1.3.7"), ("20", "20.0.1.8")]
)
def test_supported_studio_versions_connect_from_outside(bridge, external, version, text):
    app = sys.modules["imagintalk_resolve.app"]
    external(Resolve(version, studio=True))
    resolve, from_menu = app.connect(None)
    info = app.check(resolve, from_menu)
    assert not from_menu
    assert info.studio
    assert info.version[:2] >= (18, 5)
    assert info.host_name == f"DaVinci Resolve Studio {text}"
    assert info.notes == ()


def test_too_old_a_version_is_refused_in_one_line(bridge):
    app = sys.modules["imagintalk_resolve.app"]
    with pytest.raises(app.BridgeError) as caught:
        app.check(Resolve("18.1"), True)
    message = str(caught.value)
    assert "18.5 or later" in message
    assert "18.1.4.9" in message
    assert "\n" not in message


def test_free_edition_is_refused_from_outside_and_accepted_from_the_menu(bridge, external):
    app = sys.modules["imagintalk_resolve.app"]
    free = Resolve("19", studio=False)
    external(free)
    resolve, from_menu = app.connect(None)
    with pytest.raises(app.BridgeError, match="free DaVinci Resolve does not allow external"):
        app.check(resolve, from_menu)
    resolve, from_menu = app.connect(free)  # the Scripts menu's `resolve` global
    info = app.check(resolve, from_menu)
    assert from_menu
    assert not info.studio
    assert info.host_name == "DaVinci Resolve 19.1.3.7"
    assert "Workspace > Scripts" in info.notes[0]


def test_fusion_app_global_gives_resolve(bridge):
    app = sys.modules["imagintalk_resolve.app"]
    resolve = Resolve("20")
    assert app.connect(FusionApp(resolve)) == (resolve, True)


def test_not_resolve_and_unreadable_versions(bridge):
    app = sys.modules["imagintalk_resolve.app"]
    fusion = Resolve("19")
    fusion.GetProductName = lambda: "Fusion Studio"
    with pytest.raises(app.BridgeError, match="not in 'Fusion Studio'"):
        app.check(fusion, True)
    lua_table = Resolve("19")  # Lua tables arrive as dicts keyed 1.0, 2.0, ...
    lua_table.GetVersion = lambda: {1.0: 19, 2.0: 1, 3.0: 3, 4.0: 7, 5.0: ""}
    assert app.read_version(lua_table) == ((19, 1, 3, 7), "19.1.3.7")
    string_only = Resolve("18.5")
    string_only.GetVersion = lambda: None
    assert app.read_version(string_only)[0] == (18, 5, 1, 6)


def test_resolve_not_running_or_module_missing(bridge, external, monkeypatch, tmp_path):
    app = sys.modules["imagintalk_resolve.app"]
    external(None)
    with pytest.raises(app.BridgeError, match="External scripting using"):
        app.connect(None)
    monkeypatch.delitem(sys.modules, "DaVinciResolveScript")
    monkeypatch.setenv("RESOLVE_SCRIPT_API", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(app.BridgeError, match="RESOLVE_SCRIPT_API"):
        app.connect(None)


@pytest.mark.parametrize(
    ("resolve", "expected"),
    [
        (Resolve("18.1", project=Project("P", [])), "needs DaVinci Resolve 18.5 or later"),
        (Resolve("19"), "no project is open"),
        (Resolve("19", project=Project("Feature", [])), "project 'Feature' has no timeline open"),
    ],
)
def test_main_says_what_stops_it_in_one_line(bridge, tmp_path, resolve, expected):
    lines: list[str] = []
    code = bridge.main(
        resolve, session_path=tmp_path / "s.json", output_root=tmp_path, out=lines.append
    )
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("ImaginTalk: ")
    assert expected in lines[0]


def test_entry_script_runs_the_bridge_with_the_menu_global(bridge_dir, bridge, capsys):
    import runpy

    resolve = Resolve("19", project=Project("P", [Timeline("T", Fraction(24), 86400)]))
    resolve.GetProjectManager().GetCurrentProject().current = None
    runpy.run_path(
        str(bridge_dir / "ImaginTalk.py"), init_globals={"resolve": resolve}, run_name="__main__"
    )
    assert "project 'P' has no timeline open" in capsys.readouterr().out
