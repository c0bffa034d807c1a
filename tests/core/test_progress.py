"""The progress/cancel protocol: steps reported, results returned, cancel really stops."""

from __future__ import annotations

import pytest

from imagintalk_plugin.core import CancelledError, CancelToken, Progress, drive


def _job(steps: int, log: list[str]):
    try:
        for i in range(steps):
            log.append(f"step {i}")
            yield Progress(stage="work", done=i + 1, total=steps)
        return "result"
    finally:
        log.append("cleanup")


def test_drive_reports_every_step_and_returns_the_result():
    seen: list[Progress] = []
    log: list[str] = []
    assert drive(_job(3, log), seen.append) == "result"
    assert [p.done for p in seen] == [1, 2, 3]
    assert seen[-1].fraction == 1.0
    assert log[-1] == "cleanup"


def test_cancel_stops_between_steps_and_runs_cleanup():
    token = CancelToken()
    log: list[str] = []

    def on_progress(step: Progress) -> None:
        if step.done == 2:
            token.cancel()

    with pytest.raises(CancelledError):
        drive(_job(10, log), on_progress, token)
    assert log == ["step 0", "step 1", "cleanup"]


def test_progress_fraction_with_unknown_total():
    assert Progress("decode", 5, 0).fraction == 0.0
    token = CancelToken()
    token.raise_if_cancelled()
    token.cancel()
    with pytest.raises(CancelledError):
        token.raise_if_cancelled()


def test_a_cancel_point_inside_a_step_stops_the_job_mid_step():
    from imagintalk_plugin.core.progress import cancel_point

    cancel = CancelToken()
    inner_steps = []
    cleaned = []

    def job():
        try:
            yield Progress("sampler", 0, 1)
            for step in range(16):  # one long step, such as a batch's diffusion steps
                cancel_point()
                inner_steps.append(step)
                if step == 2:
                    cancel.cancel()
            yield Progress("sampler", 1, 1)
        finally:
            cleaned.append(True)

    with pytest.raises(CancelledError):
        drive(job(), None, cancel)
    assert inner_steps == [0, 1, 2]
    assert cleaned == [True]
    cancel_point()  # outside a drive it does nothing
