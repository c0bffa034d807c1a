"""Does the editor's reference voice reach the speech through the whole pipeline?

Measures: for each held-out test speaker, the first neutral test clip is the reference
recording (`--voice`, as an editor would give a clean take of the actor), and every other test
clip of that speaker is voiced from its silent video with `imagintalk voice-corpus --voice REF`.
Then `imagintalk eval` judges them all. Does the reference voice reach the speech, or do the
clip's own face and lip video decide the voice? Compare the report's own-voice speaker
similarity with the run's plain `voice-corpus` figures on the same clips.

Inputs: RUN, a run or model folder (the whole pipeline; dit_voice/ speaks the takes whose
identity is replaced, when the model has one); --data, the corpus's manifest.jsonl (its test
split); --out DIR, a folder for the takes.
Output: DIR/<id>.wav per voiced clip, and `imagintalk eval`'s report DIR.json (with its plots
beside it) and its table on stdout. Temporary per-speaker manifests are written beside the
corpus's manifest (so its relative media paths resolve) and removed afterwards. The exit status
is the first failing command's, else 0.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imagintalk_plugin.cli import main as imagintalk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a run or model folder")
    parser.add_argument("--data", type=Path, required=True, help="the corpus's manifest.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="folder for <id>.wav")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    test = [r for r in rows if r.get("split") == "test"]
    references: dict[str, dict] = {}
    for row in test:
        if row["emotion"] == "neutral":
            references.setdefault(row["speaker"], row)
    voiced = [r for r in test if r["speaker"] in references and r not in references.values()]
    args.out.mkdir(parents=True, exist_ok=True)
    # manifests beside the corpus's, so their relative media paths still resolve; removed after
    union = args.data.parent / f"{args.out.name}_reference_voice.jsonl"
    own = {s: args.data.parent / f"{args.out.name}_reference_voice_{s}.jsonl" for s in references}
    try:
        status = _voice_and_judge(args, references, voiced, union, own)
    finally:
        for path in (union, *own.values()):
            path.unlink(missing_ok=True)
    raise SystemExit(status)


def _voice_and_judge(
    args: argparse.Namespace,
    references: dict[str, dict],
    voiced: list[dict],
    union: Path,
    own: dict[str, Path],
) -> int:
    """Voice each speaker's clips with its reference, then judge them all; the exit status."""
    union.write_text("".join(json.dumps(r) + "\n" for r in voiced), encoding="utf-8")
    for speaker, reference in sorted(references.items()):
        print(f"{speaker}: reference {reference['id']}", flush=True)
        rows = [r for r in voiced if r["speaker"] == speaker]
        own[speaker].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        voice = args.data.parent / reference["audio"]
        status = imagintalk(
            ["voice-corpus", str(own[speaker]), "--out", str(args.out), "--checkpoint",
             str(args.run), "--voice", str(voice), "--quiet"]
        )  # fmt: skip
        if status:
            return status
    return imagintalk(
        ["eval", "--manifest", str(union), "--generated", str(args.out), "--split", "test",
         "--out", str(args.out.with_suffix(".json")), "--force", "--quiet"]
    )  # fmt: skip


if __name__ == "__main__":
    main()
