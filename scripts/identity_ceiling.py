"""Is the face the limit of speaker similarity, or the Style-DiT's rendering of new voices?

Usage: .venv/bin/python scripts/identity_ceiling.py RUN --data MANIFEST [--per-speaker N]

For the first N test clips of each held-out speaker, the Style-DiT (given the true units and
the aligner's lip features, as `train evaluate-voice` does) speaks twice with the same seed:
- face: the identity from the clip's face, as in the product's default;
- voice: the identity from the speaker's true voice (Resemblyzer embedding averaged over the
  speaker's OTHER test clips, so not the clip's own audio), the editor's reference-voice path.
Each take's Resemblyzer cosine with the clip's true audio is printed per speaker. If the voice
row is no better than the face row, a better face -> voice mapping cannot raise the similarity:
the DiT's rendering of voices it never heard is the limit.
"""

from __future__ import annotations

import numpy as np
from dit_probe import load_probe, probe_arguments

from imagintalk_plugin.audio import SpeakerEncoder, cosine
from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides


def main() -> None:
    args = probe_arguments(__doc__.splitlines()[0], per_speaker=6)
    probe = load_probe(args.run, args.data)
    encoder = SpeakerEncoder()
    scores: dict[str, dict[str, list[float]]] = {"face": {}, "voice": {}}
    for speaker, utts in probe.by_speaker.items():
        truth = {u.id: encoder.embed(u.audio) for u in utts}
        for utt in utts[: args.per_speaker]:
            others = np.mean([truth[o.id] for o in utts if o.id != utt.id], axis=0)
            reference = (others / np.linalg.norm(others)).astype(np.float32)
            for name, overrides in (
                ("face", VoiceOverrides()),
                ("voice", VoiceOverrides(reference_voice=reference)),
            ):
                similarity = cosine(encoder.embed(probe.speak(utt, overrides)), truth[utt.id])
                scores[name].setdefault(speaker, []).append(similarity)
        row = {name: round(float(np.mean(s[speaker])), 3) for name, s in scores.items()}
        print(f"{speaker}: {row}", flush=True)
    overall = {
        name: round(float(np.mean([x for v in s.values() for x in v])), 3)
        for name, s in scores.items()
    }
    print(f"all: {overall}")


if __name__ == "__main__":
    main()
