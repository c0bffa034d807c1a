from pathlib import Path

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


def test_a_held_lock_refuses_a_second_process_and_a_killed_holder_frees_it(tmp_path):
    import subprocess
    import sys

    from imagintalk_plugin.core.errors import OutputBusyError
    from imagintalk_plugin.core.files import exclusive_lock

    lock = tmp_path / ".cut.otio.imagintalk-lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from imagintalk_plugin.core.files import exclusive_lock\n"
                f"with exclusive_lock({str(lock)!r}):\n"
                "    print('held', flush=True); time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputBusyError, match=f"pid {holder.pid}"), exclusive_lock(lock):
            pass
    finally:
        holder.kill()  # no cleanup runs: the OS lock goes with the process
        holder.wait()
    with exclusive_lock(lock):
        assert lock.exists()
    assert not lock.exists()


def test_writable_folder_is_tried_for_real(tmp_path):
    from imagintalk_plugin.core.files import check_writable_folder

    assert check_writable_folder(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    assert "does not exist" in check_writable_folder(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    assert "not a folder" in check_writable_folder(tmp_path / "file")
    if Path("/proc/self").is_dir():  # read-only even for root
        assert "cannot write" in check_writable_folder(Path("/proc"))
