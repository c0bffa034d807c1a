"""A take kept on disk in the panel's session folder, read back without the model (no Qt, no torch).

Each take is two files in its clip's folder: `take<N>.wav`, the take's audio as a 24-bit
Broadcast WAV spotted at the clip's record timecode (an editor can drop it on a timeline as it
is), and `take<N>.npz`, what the inspect views draw: the aligner's and the refiner's units with
their confidence, the detector's error probabilities, the codec tokens, F0 / energy / voicing
and a strip of mouth crops, with a small JSON header of rates and codebooks. `SavedSpeech` has
the attributes of the pipeline's `ClipSpeech` that the panel and Place use; it reads its files
only when a view or Place first needs them, so reopening a long timeline stays quick.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from imagintalk_plugin.core.clips import ClipRef
from imagintalk_plugin.core.errors import ImagintalkError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.signals import LipTrack, ProsodyCurves, TokenSequence, Waveform
from imagintalk_plugin.timeline.bwf import read_wav, read_wav_info, write_bwf
from imagintalk_plugin.timeline.placement import timecode_samples

STRIP_FRAMES = 48  # mouth crops in the strip, at most
STRIP_SIZE = 48  # pixels per crop in the strip
TOKEN_PARTS = ("units", "refined", "codes")


class SavedTakeError(ImagintalkError):
    """A saved take's files went missing or bad after the session was reopened."""


@dataclass(frozen=True)
class MouthStrip:
    """Mouth crops side by side over a clip's picture, as the inspect views draw them."""

    image: np.ndarray  # (size, n * size) uint8
    seconds: float  # the picture's length the strip spans


def mouth_strip(track: LipTrack, frames: int = STRIP_FRAMES, size: int = STRIP_SIZE) -> np.ndarray:
    """(size, n * size) uint8: n mouth crops evenly spread over the track, side by side."""
    crops = track.mouth_crops
    if crops.dtype != np.uint8:  # float crops are 0-1 or 0-255 grayscale
        scale = 255.0 if float(np.nanmax(crops, initial=0.0)) <= 1.0 else 1.0
        crops = np.clip(crops * scale, 0, 255).astype(np.uint8)
    n = max(1, min(frames, track.num_frames))
    picks = ((np.arange(n) + 0.5) * track.num_frames / n).astype(int)
    step = max(1, crops.shape[1] // size)
    tiles = [crops[i, ::step, ::step][:size, :size] for i in picks]
    return np.concatenate(tiles, axis=1)


def track_strip(track: LipTrack | None) -> MouthStrip | None:
    """The mouth strip of a clip's lips (None without lips)."""
    if track is None or not track.num_frames:
        return None
    return MouthStrip(mouth_strip(track), track.num_frames / track.fps)


@dataclass(frozen=True)
class SavedTakeInfo:
    """What made a saved take: the pipeline's `TakeInfo`, field for field (a test checks), so
    Place writes the same `.take.json` for a saved take as for a fresh one."""

    model: str
    seed: int
    backend: str
    settings: dict[str, Any] = field(default_factory=dict)
    model_digest: str = ""


def take_files(number: int) -> tuple[str, str]:
    """The names of take `number`'s audio and arrays inside its clip's folder."""
    return f"take{number}.wav", f"take{number}.npz"


def _token_parts(name: str, seq: TokenSequence) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {f"{name}_tokens": np.asarray(seq.tokens)}
    if seq.confidence is not None:
        arrays[f"{name}_confidence"] = np.asarray(seq.confidence, np.float32)
    header = {"rate_hz": seq.rate_hz, "codebook": [seq.codebook_id, seq.codebook_version]}
    return arrays, header


def write_take(
    folder: Path, clip: ClipRef, number: int, speech: Any, track: LipTrack | None
) -> None:
    """Write take `number` of `clip` (a pipeline `ClipSpeech`) into `folder`, each file atomically.

    `track` gives the mouth strip; without it a saved take shows no mouths. Raises OSError or
    `ImagintalkError` when the files cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wav_name, arrays_name = take_files(number)
    wave = speech.waveform
    reference = timecode_samples(
        clip.record_range.start_time, clip.timeline_start, wave.sample_rate
    )
    write_bwf(
        folder / wav_name,
        wave,
        time_reference=reference,
        description=f"ImaginTalk take {number} of {clip.name} ({clip.clip_id}), not yet placed",
        originator_reference=f"{clip.clip_id} take {number}",
        force=True,
    )
    arrays: dict[str, np.ndarray] = {}
    header: dict[str, Any] = {"format": "imagintalk-take", "version": 1}
    for name in TOKEN_PARTS:
        parts, header[name] = _token_parts(name, getattr(speech, name))
        arrays |= parts
    prosody = speech.prosody
    header["prosody_rate_hz"] = prosody.rate_hz
    arrays["error_prob"] = np.asarray(speech.error_prob, np.float32)
    arrays["f0_hz"] = np.asarray(prosody.f0_hz, np.float32)
    arrays["energy_db"] = np.asarray(prosody.energy_db, np.float32)
    arrays["voiced"] = np.asarray(prosody.voiced, bool)
    strip = track_strip(track) if not isinstance(speech, SavedSpeech) else speech.mouths
    if strip is not None:
        arrays["mouths"] = strip.image
        header["mouths_s"] = strip.seconds
    arrays["header"] = np.array(json.dumps(header))
    with atomic_path(folder / arrays_name) as tmp, tmp.open("wb") as out:
        np.savez_compressed(out, **arrays)  # type: ignore[arg-type]


class SavedSpeech:
    """A saved take, read back: the fields of `ClipSpeech` the panel and Place use.

    The WAV and the arrays are read when first asked for; `check()` reads only their headers
    (what reopening a session does for every take).
    """

    def __init__(
        self,
        clip_id: str,
        folder: Path,
        number: int,
        take: SavedTakeInfo,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.clip_id = clip_id
        self.number = number
        self.notes = notes  # the take's notes (a line that barely fits), as it was made
        wav_name, arrays_name = take_files(number)
        self.wav_path, self.arrays_path = folder / wav_name, folder / arrays_name
        self.take = take

    def check(self) -> None:
        """Raise ValueError (one line) unless both files are there and look whole."""
        for path in (self.wav_path, self.arrays_path):
            if not path.is_file():
                raise ValueError(f"its file {path.name} is gone")
        try:
            read_wav_info(self.wav_path)
        except Exception as err:  # any reason a header cannot be parsed
            raise ValueError(f"its audio {self.wav_path.name} is unreadable ({err})") from err
        try:
            with zipfile.ZipFile(self.arrays_path) as npz:
                if "header.npy" not in npz.namelist():
                    raise ValueError("no header")
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            raise ValueError(f"its arrays {self.arrays_path.name} are unreadable ({err})") from err

    def _unreadable(self, path: Path, err: BaseException) -> SavedTakeError:
        reason = " ".join(str(err).split()) or type(err).__name__
        return SavedTakeError(f"take {self.number} of {self.clip_id}: {path} unreadable ({reason})")

    @cached_property
    def waveform(self) -> Waveform:
        """The take's audio (`SavedTakeError` when its file went bad)."""
        try:
            return read_wav(self.wav_path)
        except (OSError, ValueError, ImagintalkError) as err:
            raise self._unreadable(self.wav_path, err) from err

    @cached_property
    def _arrays(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.arrays_path, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            raise self._unreadable(self.arrays_path, err) from err

    @cached_property
    def _header(self) -> dict[str, Any]:
        try:
            header = json.loads(str(self._arrays["header"]))
        except (KeyError, ValueError) as err:
            raise self._unreadable(self.arrays_path, err) from err
        if not isinstance(header, dict):
            raise self._unreadable(self.arrays_path, ValueError("its header is not an object"))
        return header

    def _tokens(self, name: str) -> TokenSequence:
        try:
            header = self._header[name]
            codebook_id, codebook_version = header["codebook"]
            return TokenSequence(
                self._arrays[f"{name}_tokens"],
                float(header["rate_hz"]),
                str(codebook_id),
                str(codebook_version),
                self._arrays.get(f"{name}_confidence"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise self._unreadable(self.arrays_path, err) from err

    @cached_property
    def units(self) -> TokenSequence:
        """The aligner's units with their confidence."""
        return self._tokens("units")

    @cached_property
    def refined(self) -> TokenSequence:
        """The units after the refiner."""
        return self._tokens("refined")

    @cached_property
    def codes(self) -> TokenSequence:
        """The codec tokens."""
        return self._tokens("codes")

    @property
    def error_prob(self) -> np.ndarray:
        """(T,) the detector's probability that each unit is wrong."""
        try:
            return self._arrays["error_prob"]
        except KeyError as err:
            raise self._unreadable(self.arrays_path, err) from err

    @cached_property
    def prosody(self) -> ProsodyCurves:
        """F0, energy and voicing of the take."""
        a = self._arrays
        try:
            rate = float(self._header["prosody_rate_hz"])
            return ProsodyCurves(rate, a["f0_hz"], a["energy_db"], a["voiced"])
        except (KeyError, TypeError, ValueError) as err:
            raise self._unreadable(self.arrays_path, err) from err

    @property
    def changed(self) -> np.ndarray:
        """(T,) bool: units the refiner changed."""
        return self.units.tokens != self.refined.tokens

    @cached_property
    def mouths(self) -> MouthStrip | None:
        """The mouth strip saved with the take (None when it was made without lips)."""
        image = self._arrays.get("mouths")
        seconds = self._header.get("mouths_s")
        return None if image is None or seconds is None else MouthStrip(image, float(seconds))


def info_record(info: Any) -> dict[str, Any]:
    """A take's `TakeInfo` (or `SavedTakeInfo`) as JSON-ready data."""
    return asdict(info)


def info_from_record(record: dict[str, Any]) -> SavedTakeInfo:
    """A `SavedTakeInfo` from `info_record`'s data (KeyError / TypeError when malformed)."""
    settings = record.get("settings") or {}
    if not isinstance(settings, dict):
        raise TypeError("take settings are not an object")
    return SavedTakeInfo(
        str(record["model"]),
        int(record["seed"]),
        str(record["backend"]),
        settings,
        str(record.get("model_digest") or ""),
    )
