"""The bridge's one error type: a problem the user can act on, said in one line."""

from __future__ import annotations


class BridgeError(Exception):
    """Something stops the bridge (no Resolve, too old, no timeline, no panel): one clear line."""
