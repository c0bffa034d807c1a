"""Shared fixtures: the real third-party files in ../shared/realdata (skipped when absent), and
for the pipeline and panel tests a tiny random checkpoint and two rendered talking faces."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from shared_data import REALDATA


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or fill the user's own prepared-clip cache."""
    os.environ["IMAGINTALK_CACHE_DIR"] = str(tmp_path_factory.mktemp("liptrack_cache"))


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny tensors: one torch thread for a module's tests (`pytestmark = pytest.mark.
    usefixtures("one_torch_thread")`), so a busy machine does not stall thread pools."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder; tests using it skip with a reason when it is missing."""
    if not REALDATA.is_dir():
        pytest.skip(f"real third-party data not found at {REALDATA} (set IMAGINTALK_REALDATA)")
    return REALDATA


@pytest.fixture(scope="session")
def timelines_dir(realdata: Path) -> Path:
    """../shared/realdata/timelines."""
    return realdata / "timelines"


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete `tiny` dubbing checkpoint with seeded random weights."""
    from tiny_checkpoint import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_ckpt"))


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two rendered ImaginTalk-Synth clips of talking faces (25 fps, silent video)."""
    from imagintalk_plugin.core.progress import drive
    from imagintalk_plugin.synth.corpus import CorpusSettings, synth_corpus

    out = tmp_path_factory.mktemp("face_corpus")
    settings = CorpusSettings(out=out, utterances=2, seed=3, speakers=2, jobs=2)
    manifest = drive(synth_corpus(settings))
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return [out / e["video"] for e in entries]
