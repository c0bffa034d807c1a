"""The Qt binding keeps Python's reference counts: PySide6 6.12.0 on Python 3.11 drops one
reference to None on every call into Qt, so a panel session aborts ("deallocating None")
after some hundred thousand events. pyproject excludes that release; this catches another."""

from __future__ import annotations

import sys

CALLS = 2000


def test_calls_into_qt_keep_none_alive(qapp) -> None:
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        qapp.processEvents()
        qapp.sendPostedEvents()
    lost = before - sys.getrefcount(None)
    assert lost < CALLS // 10, f"{lost} references to None lost over {2 * CALLS} calls into Qt"
