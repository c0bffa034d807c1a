"""A model's voice bank: named voices to cast characters with (`bank:NAME`).

`voice_bank.json` in the model folder maps a name to a 256-d Resemblyzer embedding (unit
length, the space of `--voice WAV`'s reference embeddings, which the face-style adapter's voice
branch learned) and a note of where it came from:

    {"format": "imagintalk voice bank", "version": 1,
     "voices": {"NARRATOR": {"embedding": [256 floats], "source": "average of 2 recordings",
                             "recordings": ["/abs/a.wav", "/abs/b.wav"]}}}

`add_voice` averages the embeddings of one or more recordings (renormalised to unit length)
and writes the file atomically; a missing file is an empty bank. The file is not one of the
stages' files, so adding a voice leaves the model's content digest, and the takes it made,
as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imagintalk_plugin.core.errors import UsageError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.pipeline.voice_overrides_io import REFERENCE_DIM

BANK_FILE = "voice_bank.json"
BANK_FORMAT = "imagintalk voice bank"
BANK_VERSION = 1


@dataclass(frozen=True, eq=False)
class BankVoice:
    """One named voice: its embedding and where it came from."""

    name: str
    embedding: np.ndarray  # (256,) float32, unit length
    source: str
    recordings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class VoiceBank:
    """The voices of a model folder (none when it has no bank)."""

    path: Path
    voices: dict[str, BankVoice] = field(default_factory=dict)

    def voice(self, name: str, origin: str) -> BankVoice:
        """The voice `name`; a one-line `UsageError` starting with `origin` when it is not in
        the bank."""
        if name in self.voices:
            return self.voices[name]
        known = ", ".join(sorted(self.voices)) or "none; add one with `imagintalk voices add`"
        raise UsageError(f"{origin}: no voice '{name}' in the voice bank {self.path} ({known})")


def bank_path(model: Path) -> Path:
    """Where a model folder keeps its voice bank."""
    return Path(model) / BANK_FILE


def read_voice_bank(model: Path) -> VoiceBank:
    """The model folder's voice bank; empty when it has none; `UsageError` when unreadable."""
    path = bank_path(model)
    if not path.exists():
        return VoiceBank(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != BANK_FORMAT or data.get("version") != BANK_VERSION:
            raise ValueError(f"not a version {BANK_VERSION} {BANK_FORMAT}")
        voices = {}
        for name, entry in data["voices"].items():
            embedding = np.asarray(entry["embedding"], np.float32)
            if embedding.shape != (REFERENCE_DIM,) or not np.all(np.isfinite(embedding)):
                raise ValueError(f"voice '{name}' has no {REFERENCE_DIM}-d embedding")
            recordings = tuple(str(r) for r in entry.get("recordings", ()))
            voices[name] = BankVoice(name, embedding, str(entry.get("source", "")), recordings)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise UsageError(f"cannot read the voice bank {path}: {err}") from None
    return VoiceBank(path, voices)


def check_voice_name(name: str) -> str:
    """A usable voice name (stripped), or a one-line `UsageError`."""
    name = name.strip()
    if not name or any(not c.isprintable() for c in name) or "=" in name:
        raise UsageError(f"voice name '{name}' must be printable text without '='")
    return name


def add_voice(
    model: Path,
    name: str,
    recordings: list[Path],
    *,
    force: bool = False,
    embed: Callable[[Path], np.ndarray] | None = None,
) -> BankVoice:
    """Add (or, with `force`, replace) voice `name`: the average of the recordings'
    Resemblyzer embeddings. `embed(path) -> (256,)` defaults to `reference_voice_embedding`
    (its checks: a readable WAV of at least 1 s, not silent)."""
    from imagintalk_plugin.pipeline.voice_overrides_io import reference_voice_embedding

    name = check_voice_name(name)
    if not recordings:
        raise UsageError(f"voice '{name}' needs at least one recording")
    bank = read_voice_bank(model)
    if name in bank.voices and not force:
        raise UsageError(f"voice '{name}' is already in {bank.path} (use --force to replace it)")
    embedder = embed or reference_voice_embedding
    vectors = [np.asarray(embedder(Path(r)), np.float64) for r in recordings]
    mean = np.mean(vectors, axis=0)
    norm = float(np.linalg.norm(mean))
    if not np.isfinite(norm) or norm < 1e-6:
        raise UsageError(f"the recordings of voice '{name}' give no usable average voice")
    paths = tuple(str(Path(r).resolve()) for r in recordings)
    count = f"{len(paths)} recordings" if len(paths) > 1 else "1 recording"
    source = f"average of {count}: " + ", ".join(Path(p).name for p in paths)
    voice = BankVoice(name, (mean / norm).astype(np.float32), source, paths)
    _write(bank.path, {**bank.voices, name: voice})
    return voice


def _write(path: Path, voices: dict[str, BankVoice]) -> None:
    data = {
        "format": BANK_FORMAT,
        "version": BANK_VERSION,
        "voices": {
            name: {
                "embedding": [round(float(x), 7) for x in v.embedding],
                "source": v.source,
                "recordings": list(v.recordings),
            }
            for name, v in sorted(voices.items())
        },
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
