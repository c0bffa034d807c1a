"""ImaginTalk-Synth: the talking-face corpus with ground truth."""
