"""Is the face the limit of speaker similarity, or the Style-DiT's rendering of new voices?

Measures: for the first N test clips of each held-out speaker, the Style-DiT (given the true
units and the aligner's lip features, as `train evaluate-voice` does) speaks twice with the
same seed:
- face: the identity from the clip's face, as in the product's default;
- voice: the identity from the speaker's true voice (Resemblyzer embedding averaged over the
  speaker's OTHER test clips, so not the clip's own audio), the editor's reference-voice path.
Each take is scored by its Resemblyzer cosine with the clip's true audio. If the voice row is
no better than the face row, a better face -> voice mapping cannot raise the similarity: the
DiT's rendering of voices it never heard is the limit.

Inputs: RUN, a run or model folder with units/, aligner/ and dit/ (the DiT trained on that
aligner); --data, the manifest the run was trained on (its test split is used).
Output (stdout): one line per test speaker, `SPEAKER: {'face': F, 'voice': V}` (mean cosine
over its N clips; a speaker with one test clip is skipped), then `all: {'face': F, 'voice': V}`
over every scored clip.
"""

from __future__ import annotations

import numpy as np
from dit_probe import load_probe, probe_arguments

from imagintalk_plugin.audio import SpeakerEncoder, cosine
from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides


def main() -> None:
    args = probe_arguments(__doc__, per_speaker=6)
    probe = load_probe(args.run, args.data)
    encoder = SpeakerEncoder()
    scores: dict[str, dict[str, list[float]]] = {"face": {}, "voice": {}}
    for speaker, utts in probe.by_speaker.items():
        if len(utts) < 2:  # the voice path needs the speaker's other clips
            print(f"{speaker}: skipped (one test clip)", flush=True)
            continue
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
