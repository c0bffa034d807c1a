"""Real audio-visual corpora (GRID, LRS3/LRS2, a folder of videos) as training manifests.

`imagintalk corpus import` (`command.py`, `importer.py`) writes the same `manifest.jsonl` that
ImaginTalk-Synth writes, so every trainer and judge reads a real corpus unchanged.

Words without timings (GRID clips with no `.align`, LRS2, plain transcripts) are stored as an
empty `words` list with the transcript in `text` and `"words_timed": false`; clips with the
corpus's timings carry them in `words` and `"words_timed": true`. No reader can take an
untimed word for a timed one, because there are none. No training stage needs word timings:
the units come from the audio, the aligner, detector, refiner, codec, vocoder and Style-DiT
learn from audio and lips; the only use of `words` is the Style-DiT's voice bank saying a
synthetic clip's words again (labels only, and only for clips with an espeak-ng voice). The
judges use `text` (WER) and the audio.
"""
