"""The free-text judges on real recordings with known transcripts (../shared/realdata).

Whisper base (`whisper` judge) and PocketSphinx with its default LM (`wer` judge on free text;
the GRID grammar for the six GRID clips) transcribe each recording; the corpus WER per judge
and data set is printed. The GRID s1 corpus and ImaginTalk-Synth corpora are measured with
`imagintalk eval --ground-truth --judges whisper,wer` instead (docs/corpus-and-judges.md).

    .venv/bin/python benchmarks/judge_ceilings.py [--realdata ../shared/realdata]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# clips whose INDEX.tsv transcript is complete
CLIPS = {
    "audio/whisper/jfk.flac": "JFK",
    "audio/lhotse/2412-153948-0000.flac": "LibriSpeech",
    "audio/lhotse/LJ002-0020.wav": "LJ Speech",
    "audio/lhotse/LJ002-0035.wav": "LJ Speech",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    args = parser.parse_args()
    from faster_whisper.audio import decode_audio

    from imagintalk_plugin.evaluation import intelligibility as sphinx
    from imagintalk_plugin.evaluation import whisper
    from imagintalk_plugin.evaluation.intelligibility import corpus_error_rates

    with (args.realdata / "INDEX.tsv").open(newline="") as handle:
        index = {row["local_path"]: row for row in csv.DictReader(handle, delimiter="\t")}
    clips = dict(CLIPS)
    clips.update({p: "GRID" for p in index if p.startswith("video/GRID/") and p.endswith(".mpg")})
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    recogniser, heard_by = whisper.WhisperRecogniser(), sphinx.Recogniser()
    for path, data in clips.items():
        text = index[path]["transcript"].split("(")[0].strip()
        audio = decode_audio(str(args.realdata / path), sampling_rate=16000)
        heard, _ = recogniser.transcribe(audio)
        pairs["whisper", data].append((whisper.normalise(text), whisper.normalise(heard)))
        text_set = "grid" if data == "GRID" else "free"
        heard = heard_by.transcribe(audio, text_set)
        pairs["wer", data].append((sphinx.normalise(text), sphinx.normalise(heard)))
        said = {judge: pairs[judge, data][-1][1] for judge in ("whisper", "wer")}
        print(f"{path}: whisper '{said['whisper']}' / sphinx '{said['wer']}'")
    print("\n| judge | data | clips | WER |\n|---|---|---|---|")
    for (judge, data), rows in sorted(pairs.items()):
        wer, _ = corpus_error_rates([r for r, _ in rows], [h for _, h in rows])
        print(f"| `{judge}` | {data} (real) | {len(rows)} | {wer:.1%} |")


if __name__ == "__main__":
    main()
