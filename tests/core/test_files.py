import pytest

from imagintalk_plugin.core.files import atomic_path, remove_stale_temporaries


def _write_half_then_fail(target):
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")


def test_a_failed_write_leaves_nothing_and_stale_temporaries_can_be_swept(tmp_path):
    with pytest.raises(RuntimeError):
        _write_half_then_fail(tmp_path / "take.wav")
    assert list(tmp_path.iterdir()) == []
    stale = tmp_path / ".take.wav.abc123.tmp"  # what a killed process leaves
    stale.mkdir()
    (stale / "take.wav").write_bytes(b"half")
    keep = tmp_path / "notes.tmp"
    keep.write_text("the user's")
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp"]
