"""ImaginTalk: generate dialogue for silent takes from lips and faces, placed on the timeline.

The package is one import root; heavy dependencies (torch, transformers, onnxruntime, Qt)
are imported lazily inside the functions that need them so the command line starts fast.
"""

__version__ = "0.1.0"
