"""Opening the panel window loads no model code: torch is imported by the worker's first batch."""

from __future__ import annotations

import subprocess
import sys


def test_the_panel_window_loads_no_model_code() -> None:
    code = "import sys; import imagintalk_plugin.ui.panel; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
