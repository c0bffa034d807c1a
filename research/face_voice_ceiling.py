"""How much of a speaker's voice can the face in the video tell, on an ImaginTalk-Synth corpus?

The corpus gives each speaker the voice its rule (`synth.voices.voice_from_face`, the rule its
speakers.jsonl records) computes from the speaker's still face ("still") or from its face as
rendered ("rendered"). A model sees the face only as the front-end reads it from the rendered
video: the clip's dlib descriptor.

Measures: for the first N test clips of each held-out speaker, the clip's words said again
through espeak-ng (same speed, emotion and intensity, so the same timing) in three voices:
- true: the speaker's own voice (speakers.jsonl): what a perfect model could reach;
- rule, clip face: the voice the rule gives the clip's front-end descriptor: what a model that
  learned the rule exactly, from one clip's face, would say;
- rule, speaker face: the rule on the mean of the speaker's clip descriptors.
Each is scored like the judges (Resemblyzer cosine with the mean of the speaker's other true
clips), before any codec or vocoder: a ceiling for the face path, no model involved.
`clip variant right` is the share of clips whose descriptor gives the speaker's own espeak-ng
variant. With --checkpoint each version is scored again after its log-mel went through that
model's codec and vocoder ("... + codec"), the token round trip a Style-DiT's output takes:
the ceiling of a model that learned the rule exactly and rendered its voice perfectly in the
codec's tokens. --generated scores a model's takes of the same clips against the same
references, beside the ceilings.

Inputs: --data, an ImaginTalk-Synth manifest.jsonl with its speakers.jsonl beside it (needs
espeak-ng); --checkpoint, a run or model folder with codec/ and vocoder/ (optional);
--generated, a folder of `<id>.wav` takes, as `imagintalk voice-corpus` writes (optional).
Output (stdout): one line per test speaker, `SPEAKER (VARIANT): NAME SCORE, ...`, then
`mean: NAME SCORE, ...` averaged over the speakers.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from imagintalk_plugin.audio import SpeakerEncoder, cosine, load_audio
from imagintalk_plugin.core.progress import drive
from imagintalk_plugin.espeak import EspeakVoice
from imagintalk_plugin.synth.voice_bank import respoken
from imagintalk_plugin.synth.voices import corpus_voice_rule, voice_from_face
from imagintalk_plugin.training.training_data import load_semantic_corpus


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="the corpus's manifest.jsonl")
    parser.add_argument(
        "--per-speaker", type=int, default=12, metavar="N", help="test clips per speaker (12)"
    )
    parser.add_argument("--checkpoint", type=Path, help="also score after its codec + vocoder")
    parser.add_argument("--generated", type=Path, help="also score the takes in this folder")
    args = parser.parse_args()
    round_trip = _round_trip(args.checkpoint) if args.checkpoint else None
    speakers_file = args.data.parent / "speakers.jsonl"
    voice_rule = corpus_voice_rule(args.data)
    lines = speakers_file.read_text(encoding="utf-8").splitlines()
    voices = {r["speaker"]: EspeakVoice(**r["voice"]) for r in map(json.loads, lines)}
    entries = map(json.loads, args.data.read_text(encoding="utf-8").splitlines())
    intensity = {r["id"]: float(r.get("intensity") or 1.0) for r in entries}
    by_speaker = defaultdict(list)
    for utt in drive(load_semantic_corpus(args.data)).corpus.split("test"):
        by_speaker[utt.speaker].append(utt)
    if args.generated is not None:  # before the long loop: every take it will score is there
        scored = [u.id for utts in by_speaker.values() for u in utts[: args.per_speaker]]
        missing = [i for i in scored if not (args.generated / f"{i}.wav").is_file()]
        if missing:
            parser.error(
                f"{len(missing)} take(s) missing from {args.generated}, e.g. {missing[0]}.wav"
            )
    encoder = SpeakerEncoder()
    rows = []
    for speaker, utts in sorted(by_speaker.items()):
        truth = {u.id: encoder.embed(u.audio) for u in utts}
        assert all(u.face_embedding is not None for u in utts)
        mean_face = np.mean([u.face_embedding for u in utts], axis=0)
        scores: dict[str, list[float]] = defaultdict(list)
        for utt in utts[: args.per_speaker]:
            assert utt.speed is not None
            assert utt.face_embedding is not None
            reference = np.mean([truth[o.id] for o in utts if o.id != utt.id], axis=0)
            rule = voice_from_face(utt.face_embedding, voice_rule)
            for name, voice in (
                ("true", voices[speaker]),
                ("rule, clip face", rule),
                ("rule, speaker face", voice_from_face(mean_face, voice_rule)),
            ):
                audio = respoken(
                    utt.words,
                    voice,
                    speed=utt.speed,
                    emotion=utt.emotion,
                    seed=0,
                    length=len(utt.audio),
                    spell_letters=utt.spell_letters,
                    intensity=intensity[utt.id],
                )
                scores[name].append(cosine(encoder.embed(audio), reference))
                if round_trip is not None:
                    coded = round_trip(audio)
                    scores[f"{name} + codec"].append(cosine(encoder.embed(coded), reference))
            if args.generated is not None:
                take = load_audio(args.generated / f"{utt.id}.wav")
                scores["generated"].append(cosine(encoder.embed(take), reference))
            scores["clip variant right"].append(float(rule.variant == voices[speaker].variant))
        row = {name: float(np.mean(v)) for name, v in scores.items()}
        rows.append(row)
        print(f"{speaker} ({voices[speaker].variant}): {_fmt(row)}", flush=True)
    print(f"mean: {_fmt({k: float(np.mean([r[k] for r in rows])) for k in rows[0]})}")


def _round_trip(folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    """Audio -> the same audio's log-mel through `folder`'s codec tokens and vocoder."""
    from imagintalk_plugin.nn.mel import LogMel
    from imagintalk_plugin.pipeline.acoustic_models import load_voice_models
    from imagintalk_plugin.training.voice_evaluation import copy_synthesis

    models = load_voice_models(folder, "cpu")
    mel = LogMel(models.codec.config.mel)
    return lambda audio: copy_synthesis(models, mel, audio)["codec"]


def _fmt(row: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in row.items())


if __name__ == "__main__":
    main()
