"""Training loops, apart from the modules they train: one file per stage, one shared loop."""
