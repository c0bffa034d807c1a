"""Does the Style-DiT take the voice from the identity it is given, or from the units and lips?

Measures: for the first N test clips of each held-out speaker (the true units and the aligner's
lip features, as `train evaluate-voice` gives them), the DiT speaks once with every test
speaker's voice as the reference (the Resemblyzer centroid of that speaker's test clips), same
seed. Each take is scored by its Resemblyzer cosine with the voice asked for and with the
clip's own speaker's centroid. A DiT that follows the identity scores high in every cell of
the matrix below; one that takes the voice from the units or lips scores high on the diagonal
only.

Inputs: RUN, a run or model folder with units/, aligner/ and dit/; --data, the run's manifest
(its test split; at least two test speakers for the `follow` figure).
Output (stdout): a matrix, row = whose clips, column = whose voice was asked for, cell = mean
similarity to the voice asked for; then `follow: +X.XXX`, the mean similarity to the voice
asked for minus the mean similarity to the clip's own speaker over the swapped takes
(off-diagonal cells). Near 0 or below means the identity input is ignored.
"""

from __future__ import annotations

import numpy as np
from dit_probe import load_probe, probe_arguments

from imagintalk_plugin.audio import SpeakerEncoder, cosine
from imagintalk_plugin.pipeline.voice_generation import VoiceOverrides


def main() -> None:
    args = probe_arguments(__doc__, per_speaker=4)
    probe = load_probe(args.run, args.data)
    encoder = SpeakerEncoder()
    speakers = list(probe.by_speaker)
    centroid = {}
    for speaker, utts in probe.by_speaker.items():
        mean = np.mean([encoder.embed(u.audio) for u in utts], axis=0)
        centroid[speaker] = (mean / np.linalg.norm(mean)).astype(np.float32)
    print("clip \\ voice asked " + "".join(s.rjust(8) for s in speakers))
    follow = []
    for source in speakers:
        cells = []
        for target in speakers:
            to_target, to_source = [], []
            for utt in probe.by_speaker[source][: args.per_speaker]:
                overrides = VoiceOverrides(reference_voice=centroid[target])
                made = encoder.embed(probe.speak(utt, overrides))
                to_target.append(cosine(made, centroid[target]))
                to_source.append(cosine(made, centroid[source]))
            cells.append(float(np.mean(to_target)))
            if target != source:
                follow.append(float(np.mean(to_target) - np.mean(to_source)))
        print(source.ljust(19) + "".join(f"{c:8.3f}" for c in cells), flush=True)
    print(f"follow: {np.mean(follow):+.3f}" if follow else "follow: n/a (one test speaker)")


if __name__ == "__main__":
    main()
