"""What an import did: `import_report.json` (counts, speakers, every skipped clip and why) and
the one-line summary the command prints. The report holds no times or host details, so the
same import writes the same bytes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.manifest import SPLITS, ManifestEntry

REPORT_NAME = "import_report.json"


@dataclass(frozen=True)
class Skipped:
    """A clip left out of the manifest and the reason."""

    id: str
    video: Path
    reason: str


@dataclass
class ImportReport:
    """The outcome of `imagintalk corpus import`."""

    source: Path
    layout: str
    out: Path
    found: int  # clips of the layout in the source (after --limit)
    split_mode: str  # "speaker", "clip", or the one split every clip went to
    frontend: bool  # whether the front-end pass ran (else no-face clips are still listed)
    entries: list[ManifestEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def manifest(self) -> Path:
        """Where the manifest is (written only when at least one clip was usable)."""
        return self.out / "manifest.jsonl"

    def counts(self) -> dict[str, int]:
        """Clips found, imported and skipped; per split; speakers; words timed or not."""
        splits = Counter(e.split for e in self.entries)
        timed = sum(bool(e.extra.get("words_timed")) for e in self.entries)
        return {
            "found": self.found,
            "imported": len(self.entries),
            "skipped": len(self.skipped),
            **{split: splits.get(split, 0) for split in SPLITS},
            "speakers": len({e.speaker for e in self.entries}),
            "words_timed": timed,
            "words_untimed": len(self.entries) - timed,
            "untranscribed": sum(not e.text for e in self.entries),
        }

    def speakers(self) -> dict[str, dict[str, int]]:
        """Per speaker: imported clips per split."""
        table: dict[str, dict[str, int]] = {}
        for entry in self.entries:
            row = table.setdefault(entry.speaker, dict.fromkeys(SPLITS, 0))
            row[entry.split] += 1
        return dict(sorted(table.items()))

    def to_json(self) -> str:
        """The report file's text."""
        body = {
            "source": str(self.source),
            "layout": self.layout,
            "manifest": self.manifest.name if self.entries else None,
            "split": self.split_mode,
            "frontend": self.frontend,
            "counts": self.counts(),
            "speakers": self.speakers(),
            "skipped": [
                {"id": s.id, "video": str(s.video), "reason": s.reason}
                for s in sorted(self.skipped, key=lambda s: (s.id, str(s.video)))
            ],
        }
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"

    def write(self) -> Path:
        """Write `import_report.json` into the output folder (atomically)."""
        path = self.out / REPORT_NAME
        with atomic_path(path) as tmp:
            tmp.write_text(self.to_json(), encoding="utf-8")
        return path

    def summary(self) -> str:
        """One line: what was imported, how it split, how many were skipped."""
        counts = self.counts()
        splits = ", ".join(f"{counts[s]} {s}" for s in SPLITS if counts[s])
        how = f"split by {self.split_mode}" if self.split_mode in ("speaker", "clip") else "all"
        line = (
            f"imported {counts['imported']} of {self.found} clips into {self.manifest} "
            f"({counts['speakers']} speaker{'s' if counts['speakers'] != 1 else ''}, "
            f"{how}: {splits})"
        )
        if self.skipped:
            line += f"; skipped {len(self.skipped)} (reasons in {self.out / REPORT_NAME})"
        if not self.frontend:
            line += "; front-end not run (--no-frontend)"
        return line
