"""How much of the spoken phones do the speech units carry, on a synthetic corpus?

Measures: every 20 ms frame inside a labelled phoneme of the first N test clips is paired
with its unit (the run's `units/`, as training extracts them) and the phoneme the manifest
labels there. From the joint counts:
- information: I(phone; unit) / H(phone), the share of the phoneme's entropy the unit
  explains (1: the unit tells the phoneme; 0: it tells nothing);
- purity: the share of frames whose unit's most frequent phoneme is theirs.
Stress marks are dropped from the labels (`'a` and `,a` are the phone `a`).
Units that explain little of the phones cannot make the Style-DiT say the words, however
well it renders them: this separates the units from the Style-DiT as the limit of
intelligibility (docs/research-notebook.md, the Kokoro retrain).

Inputs: RUN, a run or model folder with units/; --data, a manifest with phoneme spans
(ImaginTalk-Synth; its test split is used). With --even-phones, a manifest of real clips with
word timings only (GRID): each word's espeak-ng phonemes share its span evenly. Such labels
are rough (real phones are not evenly long), so they compare codebooks on the same clips,
not with the synthetic figures.
Output (stdout): `CORPUS: frames F, phones P, information I, purity Q`.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from imagintalk_plugin.audio import load_audio
from imagintalk_plugin.core.manifest import ManifestEntry, read_manifest
from imagintalk_plugin.nn.unit_fitting import SILENCE, PhoneSpan, frame_phones
from imagintalk_plugin.pipeline.semantic_models import load_units
from imagintalk_plugin.training.phone_labels import word_phone_spans


def _spans(entry: ManifestEntry, even: bool) -> Sequence[PhoneSpan]:
    """The clip's phoneme spans, or with `even` its words' phonemes spread over them."""
    if even:
        return word_phone_spans(
            [w.label for w in entry.words], [(w.start, w.end) for w in entry.words]
        )
    return [(p.label, p.start, p.end) for p in entry.phonemes]


def phone_unit_pairs(
    run: Path, manifest: Path, clips: int, even: bool = False
) -> list[tuple[str, int]]:
    """(phoneme label, unit id) of every unit frame inside a labelled phoneme span of the
    first `clips` test clips (with `even`, spans spread over the timed words)."""
    units = load_units(run)
    entries: list[tuple[ManifestEntry, Sequence[PhoneSpan]]] = []
    for entry in read_manifest(manifest):
        if len(entries) == clips:
            break
        if entry.split == "test" and (spans := _spans(entry, even)):
            entries.append((entry, spans))
    if not entries:
        raise SystemExit(f"{manifest} has no test clips with phoneme spans")
    pairs: list[tuple[str, int]] = []
    for entry, spans in entries:
        ids = units.unit_ids(load_audio(entry.audio))
        phones = frame_phones(spans, len(ids), units.config.rate_hz)  # stress marks dropped
        pairs.extend((p, int(u)) for p, u in zip(phones, ids, strict=True) if p != SILENCE)
    return pairs


def information_and_purity(pairs: list[tuple[str, int]]) -> tuple[float, float]:
    """I(phone; unit) / H(phone) and the units' phone purity, from the joint counts."""
    total = len(pairs)
    joint = Counter(pairs)
    phones = Counter(p for p, _ in pairs)
    units = Counter(u for _, u in pairs)
    entropy = -sum(c / total * math.log2(c / total) for c in phones.values())
    mutual = sum(
        c / total * math.log2(c * total / (phones[p] * units[u])) for (p, u), c in joint.items()
    )
    best: dict[int, int] = {}
    for (_, unit), count in joint.items():
        best[unit] = max(best.get(unit, 0), count)
    return (mutual / entropy if entropy > 0 else 0.0), sum(best.values()) / total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run or model folder (units/)")
    parser.add_argument("--data", type=Path, required=True, help="a synthetic manifest.jsonl")
    parser.add_argument("--clips", type=int, default=60, metavar="N", help="test clips (60)")
    parser.add_argument(
        "--even-phones", action="store_true", help="word-timed real clips: phones spread evenly"
    )
    args = parser.parse_args()
    pairs = phone_unit_pairs(args.run, args.data, args.clips, args.even_phones)
    information, purity = information_and_purity(pairs)
    phones = len({p for p, _ in pairs})
    print(
        f"{args.data.parent.name}: frames {len(pairs)}, phones {phones}, "
        f"information {information:.3f}, purity {purity:.3f}"
    )


if __name__ == "__main__":
    main()
