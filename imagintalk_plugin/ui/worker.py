"""The panel's worker: loads the model and runs clip jobs on a thread of its own.

`DubWorker` lives on a `QThread`; the GUI thread only sends it batches of `ClipRequest`s and
receives signals, so no model code (nor the torch import) ever runs on the GUI thread. The
model is loaded on the first batch and kept while the settings stay the same. Each batch
carries a `CancelToken`: Cancel sets it from the GUI thread and `drive` stops the job at its
next stage boundary. Errors become signals with one-line reasons, never a crash.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from imagintalk_plugin.core.errors import CancelledError, ImagintalkError
from imagintalk_plugin.core.progress import CancelToken, Progress, drive
from imagintalk_plugin.panel_model.state import ClipRequest, ModelConfig
from imagintalk_plugin.panel_model.take_job import clip_job

log = logging.getLogger(__name__)


def _one_line(err: BaseException) -> str:
    if isinstance(err, ImagintalkError):
        return str(err)
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class DubWorker(QObject):
    """Runs batches of clip jobs; lives on its own thread (see `WorkerHost`)."""

    clip_started = Signal(str)
    progress = Signal(object)  # core.progress.Progress of the running clip
    clip_done = Signal(object)  # panel_model.state.ClipResult
    clip_failed = Signal(str, str)  # clip id, one-line reason
    cancelled = Signal(object)  # list of clip ids that did not run
    model_ready = Signal(str)  # what was checked or loaded
    model_error = Signal(str)  # why the model cannot be used
    batch_finished = Signal(object)  # list of clip ids that did not run (empty: all ran)

    def __init__(self, cache: Any = None) -> None:
        super().__init__()
        from imagintalk_plugin.frontend.face_embedding_process import embed_in_helper_process

        # dlib's face descriptor holds the GIL ~100 ms a face: out of the GUI's process
        embed_in_helper_process()
        self._cache = cache
        self._config: ModelConfig | None = None
        self._loaded: tuple[Any, Any] | None = None

    def _folder(self, config: ModelConfig) -> Path:
        from imagintalk_plugin.core.paths import default_checkpoint

        return config.checkpoint or default_checkpoint()

    def _models(self, config: ModelConfig) -> tuple[Any, Any]:
        """The loaded models and stages for `config`, loading them when it changed."""
        if self._loaded is not None and self._config == config:
            return self._loaded
        from imagintalk_plugin.pipeline.dub_models import load_dub_models, make_stages

        self._loaded = None
        device = None if config.device == "auto" else config.device
        folder = self._folder(config)
        models = load_dub_models(folder, device)
        self._loaded = (models, make_stages(models, config.backend, device, config.threads))
        self._config = config
        self.model_ready.emit(f"model {models.name} on {config.backend}")
        return self._loaded

    @Slot(object)
    def check_model(self, config: ModelConfig) -> None:
        """Check the checkpoint's parts without loading it (fast; for the settings)."""
        try:
            from imagintalk_plugin.pipeline.dub_models import check_checkpoint

            folder = self._folder(config)
            check_checkpoint(folder)
        except Exception as err:
            self.model_error.emit(_one_line(err))
        else:
            self.model_ready.emit(f"checkpoint {folder}")

    @Slot(object, object, object)
    def run_batch(
        self, requests: list[ClipRequest], config: ModelConfig, cancel: CancelToken
    ) -> None:
        """Run the requests in order; stop at the next stage boundary once `cancel` is set."""
        ids = [r.clip.clip_id for r in requests]
        if cancel.cancelled:
            self.cancelled.emit(ids)
            self.batch_finished.emit(ids)
            return
        try:
            models, stages = self._models(config)
        except Exception as err:  # missing, incompatible or unreadable: a message, no crash
            log.debug("model load failed", exc_info=True)
            folder = config.checkpoint or "the shipped demo model"
            self.model_error.emit(f"cannot use the model ({folder}): {_one_line(err)}")
            self.batch_finished.emit(ids)
            return
        for index, request in enumerate(requests):
            clip_id = request.clip.clip_id
            self.clip_started.emit(clip_id)
            try:
                result = drive(clip_job(request, models, stages, self._cache), self._report, cancel)
            except CancelledError:
                self.cancelled.emit(ids[index:])
                self.batch_finished.emit(ids[index:])
                return
            except Exception as err:  # one broken clip never stops the batch
                log.debug("clip %s failed", clip_id, exc_info=True)
                self.clip_failed.emit(clip_id, _one_line(err))
            else:
                self.clip_done.emit(result)
        self.batch_finished.emit([])

    def _report(self, step: Progress) -> None:
        self.progress.emit(step)


class WorkerHost(QObject):
    """Owns the worker thread; the GUI thread's handle on it."""

    _submit = Signal(object, object, object)
    _check = Signal(object)

    def __init__(self, parent: QObject | None = None, cache: Any = None) -> None:
        super().__init__(parent)
        self.worker = DubWorker(cache)
        self._thread = QThread(self)
        self._thread.setObjectName("imagintalk-worker")
        self.worker.moveToThread(self._thread)
        self._submit.connect(self.worker.run_batch, Qt.ConnectionType.QueuedConnection)
        self._check.connect(self.worker.check_model, Qt.ConnectionType.QueuedConnection)
        self._tokens: list[CancelToken] = []
        self.worker.batch_finished.connect(self._forget_token)
        self._thread.start()

    def submit(self, requests: list[ClipRequest], config: ModelConfig) -> CancelToken:
        """Queue a batch; batches run one after another."""
        token = CancelToken()
        self._tokens.append(token)
        self._submit.emit(list(requests), config, token)
        return token

    def check(self, config: ModelConfig) -> None:
        """Ask the worker whether the checkpoint has every part."""
        self._check.emit(config)

    def cancel(self) -> None:
        """Stop every queued and running batch at its next stage boundary."""
        for token in self._tokens:
            token.cancel()

    @Slot(object)
    def _forget_token(self, _unrun: object) -> None:
        if self._tokens:
            self._tokens.pop(0)  # batches finish in the order they were submitted

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel, stop the thread (waits at most `timeout_ms` for the running stage to end),
        then end the face helper process; returns whether the thread stopped in time."""
        from imagintalk_plugin.frontend.face_embedding_process import stop_helper

        self.cancel()
        self._thread.quit()
        stopped = bool(self._thread.wait(timeout_ms))
        if stopped:  # otherwise the running job may still want it; it ends with this process
            stop_helper()
        return stopped
