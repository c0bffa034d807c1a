"""Calling Resolve's API where a function may be missing from the running version."""

from __future__ import annotations

from typing import Any


def call(obj: Any, name: str, *args: Any) -> Any:
    """`obj.name(*args)`, or None when `obj` is None or this Resolve has no such function."""
    function = getattr(obj, name, None) if obj is not None else None
    return function(*args) if callable(function) else None
