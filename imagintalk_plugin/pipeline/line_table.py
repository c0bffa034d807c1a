"""The line table of a checkpoint: how the reference voice's units map to the model's voices.

ADR speaks a known line from units the reference voice (espeak-ng) makes. Those are units of a
synthetic voice; a real speaker's same words fall on other units of the same codebook. The
table, P(unit of a corpus recording | unit of the reference voice), is counted on the training
corpus by aligning each transcript said by the reference voice to its recording
(`training/line_stage.py`). It lives in `CHECKPOINT/line/` (`table.safetensors` and
`config.json`); a checkpoint without one speaks the reference voice's units as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.errors import ModelLoadError

LINE_TABLE_KIND = "imagintalk/line-table"
LINE_TABLE_VERSION = 1
FOLDER = "line"


@dataclass(frozen=True, eq=False)
class LineTable:
    """P(model unit | reference-voice unit), rows summing to 1, for one unit codebook."""

    table: np.ndarray  # (K, K) float32
    codebook_id: str
    meta: dict[str, Any]

    @staticmethod
    def from_counts(counts: np.ndarray, codebook_id: str, meta: dict[str, Any]) -> LineTable:
        """Row-normalised counts, each row smoothed so no unit is impossible."""
        smoothed = counts.astype(np.float64) + 0.1
        table = (smoothed / smoothed.sum(axis=1, keepdims=True)).astype(np.float32)
        return LineTable(table, codebook_id, meta)

    def save(self, checkpoint: Path) -> None:
        """Write `checkpoint/line/` (safetensors, never pickles)."""
        from safetensors.numpy import save_file

        folder = checkpoint / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"table": self.table}, str(folder / "table.safetensors"))
        document = {
            "format": LINE_TABLE_KIND,
            "format_version": LINE_TABLE_VERSION,
            "codebook_id": self.codebook_id,
            "meta": self.meta,
        }
        (folder / "config.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")


def load_line_table(checkpoint: Path, codebook_id: str) -> LineTable | None:
    """The checkpoint's line table, None when it has none; a table for another codebook, or
    one that cannot be read, is a `ModelLoadError`."""
    folder = checkpoint / FOLDER
    if not (folder / "config.json").is_file():
        return None
    from safetensors.numpy import load_file

    try:
        document = json.loads((folder / "config.json").read_text("utf-8"))
        table = load_file(str(folder / "table.safetensors"))["table"]
    except (OSError, ValueError, KeyError) as error:
        raise ModelLoadError(folder, f"unreadable line table: {error}") from None
    if document.get("format") != LINE_TABLE_KIND:
        raise ModelLoadError(folder, f"holds '{document.get('format')}', not a line table")
    if document.get("codebook_id") != codebook_id:
        raise ModelLoadError(
            folder, f"fitted for units {document.get('codebook_id')}, the model has {codebook_id}"
        )
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ModelLoadError(folder, f"line table has shape {table.shape}, not (K, K)")
    return LineTable(table.astype(np.float32), codebook_id, dict(document.get("meta", {})))
