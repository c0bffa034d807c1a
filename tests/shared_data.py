"""Where the real third-party test files live (../shared/realdata beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("IMAGINTALK_REALDATA", REPO.parent / "shared" / "realdata"))
