"""Models shared by the evaluation tests (each loads once per session)."""

from __future__ import annotations

import pytest

from imagintalk_plugin.audio import SpeakerEncoder
from imagintalk_plugin.evaluation.intelligibility import Recogniser


@pytest.fixture(scope="session")
def recogniser() -> Recogniser:
    """One PocketSphinx decoder for every test."""
    return Recogniser()


@pytest.fixture(scope="session")
def encoder() -> SpeakerEncoder:
    """One Resemblyzer encoder for every test."""
    return SpeakerEncoder()
