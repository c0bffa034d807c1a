"""Write a timeline to a new file, atomically, in the format its suffix names.

The adapter always gets a deep copy (some adapters edit what they are given), writes into a
hidden temporary folder next to the output, and the finished file is moved into place with
`os.replace`: an interrupted write never leaves a partial file under the output name, and an
existing output is only replaced with `force=True`. An adapter that refuses a timeline raises
`TimelineWriteError` with its reason.

Media links. `read_timeline` makes every relative media link absolute (against the timeline's
folder, see `media_paths`) and placed dialogue is linked by absolute file URL, so what is
written here links the same files from whatever folder it is written to (EDL events whose
reel a `>>> SOURCE` table names are linked to that file); a timeline built in memory with
relative links is written as given. Per format: ``.otio``, ``.xml`` and ``.aaf``
keep absolute file URLs (FCP7 ``pathurl``, AAF network locators); ``.edl`` names each file by
its local path in a ``* FROM CLIP:`` comment (as Avid writes them); ``.otioz`` copies the
files in and links them relative to the bundle (our reader unpacks them to read them back).
Tested by writing placed timelines into another folder and reading them back: every picture
that was online is online (tests/timeline/test_media_links.py).

What each format keeps (measured with opentimelineio 0.18.1 and its adapters, by writing and
reading back the timelines `place_dialogue` makes):

- ``.otio`` (otio_json): everything; the lossless reference format.
- ``.otioz`` (otioz): as ``.otio``, zipped with the media: every referenced file that exists
  is copied in (picture media too, so it can be large) and referenced by a path relative to
  the bundle; references to missing files become MissingReferences that keep the original
  URL in their metadata but lose their available range.
- ``.xml`` (fcp_xml, FCP7 XML, what NLEs import best): clip positions, source in/out, file
  URLs, audio tracks, media start timecodes and 23.976/29.97 rates (timebase + ntsc) read
  back frame-exact. Lost: track names (FCP7 XML has none; they read back empty), all
  metadata except the
  ``fcp_xml`` namespace (so ``metadata["imagintalk"]`` is dropped), sub-frame media
  lengths (file durations are whole frames). Timecode is displayed drop-frame only when
  ``metadata["fcp_xml"]["timecode"]["displayformat"] == "DF"`` (`place_dialogue` sets it
  for drop-frame timelines); the frame numbers are exact either way. A multichannel file
  is placed as one clip item on channel 1. The writer cannot take unlinked media or
  generators: unlinked clips (most EDL events) are written as files named after the clip
  (offline in the NLE, relinkable) and generator clips (EDL black, bars) as gaps.
- ``.edl`` (cmx_3600): one track only, as CMX 3600 has; by default the timeline's single
  video track (a timeline with several video tracks is refused unless `edl_track` names
  one). Name an audio track as `edl_track` for a dialogue spotting list: "A" events whose
  source timecode is the BWF timecode. Lost: every other track, metadata (names survive as
  comments), the frame rate (a reader must be told it). Reels are the media file names cut to
  8 characters (letters, digits, '_'): the adapter would keep spaces, which break the line.
  The adapter writes record timecode from 00:00:00:00 and no FCM line; this module shifts
  events to the timeline's start timecode and adds "FCM: DROP FRAME"/"NON-DROP FRAME".
- ``.aaf`` (AAF, for Avid and Pro Tools): tracks, clip positions, source ranges, rates and
  the start timecode read back exact. Lost: audio track names (read back as "Sequence"),
  metadata outside the ``AAF`` namespace; drop-frame display (the adapter always marks the
  start timecode non-drop; frame numbers stay exact); source mobs are new (empty mob IDs)
  and link to media by URL only. The adapter wants every range on the timeline's rate, so
  media ranges at another rate are rescaled to whole timeline frames. Timelines read from
  real Avid AAFs can still be refused (the writer expects descriptor fields such as
  ImageAspectRatio that the reader does not keep): the error says so; write .otio or .xml.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import opentimelineio as otio
from opentimelineio.adapters.file_bundle_utils import MediaReferencePolicy
from opentimelineio.opentime import RationalTime, TimeRange

from imagintalk_plugin.core.errors import ImagintalkError, OutputExistsError, TimelineWriteError
from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.timeline.media_paths import local_path

# suffix -> OTIO adapter name
FORMATS = {
    ".otio": "otio_json",
    ".otioz": "otioz",
    ".xml": "fcp_xml",
    ".edl": "cmx_3600",
    ".aaf": "AAF",
}


def output_adapter(path: Path, *, force: bool = False) -> str:
    """The adapter that writes `path`; refuses an unknown suffix or an existing file (no force).

    Callers that write other files first (audio beside the timeline) check with this early.
    """
    adapter = FORMATS.get(path.suffix.lower())
    if adapter is None:
        known = ", ".join(sorted(FORMATS))
        raise TimelineWriteError(path, f"unknown format '{path.suffix}' (use one of {known})")
    if path.exists() and not force:
        raise OutputExistsError(path)
    return adapter


def write_timeline(
    timeline: otio.schema.Timeline,
    path: str | Path,
    *,
    force: bool = False,
    edl_track: str | None = None,
) -> Path:
    """Write `timeline` to `path` in the format of its suffix; return the path.

    Suffixes: .otio, .otioz, .xml (FCP7 XML), .edl (CMX 3600), .aaf. `edl_track` names the
    one track an EDL lists. Raises `OutputExistsError` for an existing `path` without
    `force`, `TimelineWriteError` for an unknown suffix, a missing folder or an adapter that
    refuses the timeline. The caller keeps `path` off its input file.
    """
    path = Path(path)
    adapter = output_adapter(path, force=force)
    if path.is_dir():
        raise TimelineWriteError(path, "is a folder")
    if not path.parent.is_dir():
        raise TimelineWriteError(path, f"folder '{path.parent}' does not exist")
    work = copy.deepcopy(timeline)
    if adapter == "fcp_xml":
        _name_missing_media(work)
        _generators_to_gaps(work)
    if adapter in ("fcp_xml", "AAF"):
        _fill_available_ranges(work)
    if adapter == "AAF":
        _conform_rates(work)
    if adapter == "cmx_3600":
        work = _edl_timeline(work, path, edl_track)
    try:
        with atomic_path(path) as tmp:
            _write_with_adapter(work, tmp, adapter)
    except ImagintalkError:
        raise
    except OSError as e:
        raise TimelineWriteError(path, e.strerror or str(e)) from e
    except Exception as e:  # adapters raise anything from ValueError to their own types
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TimelineWriteError(path, f"the {adapter} adapter refused it: {reason}") from e
    return path


def _fill_available_ranges(timeline: otio.schema.Timeline) -> None:
    """Give media without a known length the clip's own source range as its length.

    The fcp_xml and AAF writers need every file's available range; timelines from OTIO JSON
    or EDLs often lack it, and the used range is the least the file must hold.
    """
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if reference is not None and reference.available_range is None and clip.source_range:
            reference.available_range = clip.source_range


def _name_missing_media(timeline: otio.schema.Timeline) -> None:
    """FCP7 XML needs a file for every clip: unlinked media (EDL events) become a reference by
    the clip's name, which the NLE shows offline and can relink."""
    for clip in timeline.find_clips():
        if isinstance(clip.media_reference, otio.schema.MissingReference):
            name = clip.name or "offline"
            clip.media_reference = otio.schema.ExternalReference(target_url=name)
            clip.media_reference.name = name


def _generators_to_gaps(timeline: otio.schema.Timeline) -> None:
    """The fcp_xml writer crashes on generator clips (EDL black, bars): write them as gaps."""
    for track in timeline.tracks:
        for index, item in enumerate(list(track)):
            if isinstance(item, otio.schema.Clip) and isinstance(
                item.media_reference, otio.schema.GeneratorReference
            ):
                track[index] = otio.schema.Gap(source_range=item.trimmed_range(), name=item.name)


def _conform_rates(timeline: otio.schema.Timeline) -> None:
    """The AAF writer wants every range on the timeline's rate: rescale media and source
    ranges (whole frames) so 23.976 media on a 29.97 timeline is written, not refused."""
    start = timeline.global_start_time
    rate = start.rate if start is not None else None
    if rate is None:
        return
    for clip in timeline.find_clips():
        if clip.source_range is not None:
            clip.source_range = _rescaled(clip.source_range, rate)
        reference = clip.media_reference
        if reference is not None and reference.available_range is not None:
            reference.available_range = _rescaled(reference.available_range, rate)


def _rescaled(span: TimeRange, rate: float) -> TimeRange:
    start = span.start_time.rescaled_to(rate)
    duration = span.duration.rescaled_to(rate)
    return TimeRange(
        RationalTime(round(start.value), rate), RationalTime(round(duration.value), rate)
    )


def _write_with_adapter(timeline: otio.schema.Timeline, tmp: Path, adapter: str) -> None:
    options: dict[str, Any] = {}
    if adapter == "AAF":
        options["use_empty_mob_ids"] = True  # our clips carry no Avid mob IDs
    elif adapter == "otioz":
        options["media_policy"] = MediaReferencePolicy.MissingIfNotFile
    if adapter in ("AAF", "otioz"):  # these write the file themselves
        otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter, **options)
        return
    text = otio.adapters.write_to_string(timeline, adapter_name=adapter)
    if adapter == "cmx_3600":
        text = _with_fcm_line(text)
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _edl_timeline(
    timeline: otio.schema.Timeline, path: Path, edl_track: str | None
) -> otio.schema.Timeline:
    """The one track an EDL lists, first, shifted to the start timecode (cmx_3600 quirks).

    The adapter writes only the stack's first track, needs exactly one video track in the
    stack, and counts record timecode from zero; a leading gap as long as the start time
    makes its record timecode the timeline's.
    """
    tracks = [t for t in timeline.tracks if t.enabled]
    if edl_track is None:
        chosen = [t for t in tracks if t.kind == otio.schema.TrackKind.Video]
        if len(chosen) != 1:
            raise TimelineWriteError(
                path, f"an EDL lists one track and there are {len(chosen)} video tracks; name one"
            )
    else:
        chosen = [t for t in tracks if t.name == edl_track]
        if len(chosen) != 1:
            names = ", ".join(repr(t.name) for t in tracks)
            raise TimelineWriteError(path, f"no single track named '{edl_track}' ({names})")
    track = copy.deepcopy(chosen[0])
    for clip in track.find_clips():
        if not clip.metadata.get("cmx_3600", {}).get("reel"):
            clip.metadata.setdefault("cmx_3600", {})["reel"] = _reel_name(clip)
        _url_to_path(clip.media_reference)
    start = timeline.global_start_time
    if start is not None and start.value > 0:
        rate = track.duration().rate if len(track) else start.rate
        lead = TimeRange(RationalTime(0, rate), start.rescaled_to(rate))
        track.insert(0, otio.schema.Gap(source_range=lead))
    stack = [track]
    if track.kind != otio.schema.TrackKind.Video:
        stack.append(otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video))
    return otio.schema.Timeline(name=timeline.name, tracks=stack)


def _url_to_path(reference: otio.core.MediaReference | None) -> None:
    """Local file URLs as plain paths: EDLs name media in `* FROM CLIP:` comments by path
    (as Avid writes them), which our reader and NLEs take without URL decoding."""
    if isinstance(reference, otio.schema.ExternalReference):
        url = reference.target_url
        if url and urlparse(url).scheme == "file":
            reference.target_url = local_path(url, Path("/"))[0] or url
    elif isinstance(reference, otio.schema.ImageSequenceReference):
        url = reference.target_url_base
        if url and urlparse(url).scheme == "file":
            folder = local_path(url, Path("/"))[0]
            reference.target_url_base = f"{folder.rstrip('/')}/" if folder else url


def _reel_name(clip: otio.schema.Clip) -> str:
    """An 8-character reel from the media's file name (the adapter's own keeps spaces, which
    split the event line)."""
    ref = clip.media_reference
    name = getattr(ref, "name", "") or ""
    url = getattr(ref, "target_url", "") or ""
    if not name and url:
        name = PurePosixPath(unquote(urlparse(url).path).replace("\\", "/")).name
    stem = re.sub(r"[.][A-Za-z0-9]+$", "", name or clip.name)
    return re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_")[:8] or "AX"


def _with_fcm_line(edl: str) -> str:
    """Add the frame-code-mode line the adapter omits (OTIO writes ';' for drop-frame)."""
    events = [line for line in edl.splitlines() if line[:3].isdigit()]
    drop = any(";" in line for line in events)
    fcm = "FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME"
    lines = edl.splitlines()
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    return "\n".join([*lines[:at], fcm, *lines[at:]]) + "\n"
