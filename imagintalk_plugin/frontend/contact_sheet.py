"""A contact sheet PNG for a person to check a prepared clip at a glance.

Left: one video frame with the 68 landmarks and the mouth crop's outline drawn, and the aligned
face crop. Right: a grid of mouth crops spread over the clip, each labelled with its frame
number; frames without a valid face are crossed out in red.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imagintalk_plugin.core.files import atomic_path
from imagintalk_plugin.core.signals import LipTrack

TILE = 96
COLUMNS = 8
MAX_TILES = 48
PANEL_HEIGHT = 384


def _mouth_grid(track: LipTrack) -> np.ndarray:
    import cv2

    count = min(MAX_TILES, track.num_frames)
    picks = np.unique(np.linspace(0, track.num_frames - 1, count).round().astype(int))
    rows = -(-len(picks) // COLUMNS)
    grid = np.full((rows * (TILE + 14), COLUMNS * TILE, 3), 32, np.uint8)
    for n, t in enumerate(picks):
        y, x = (n // COLUMNS) * (TILE + 14), (n % COLUMNS) * TILE
        tile = cv2.cvtColor(cv2.resize(track.mouth_crops[t], (TILE, TILE)), cv2.COLOR_GRAY2RGB)
        if not track.valid[t]:
            cv2.line(tile, (0, 0), (TILE - 1, TILE - 1), (220, 40, 40), 2)
            cv2.line(tile, (0, TILE - 1), (TILE - 1, 0), (220, 40, 40), 2)
        grid[y + 14 : y + 14 + TILE, x : x + TILE] = tile
        cv2.putText(grid, str(t), (x + 3, y + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (230,) * 3, 1)
    return grid


def _annotated_frame(
    frame_rgb: np.ndarray, points: np.ndarray, crop_matrix: np.ndarray
) -> np.ndarray:
    import cv2

    image = frame_rgb.copy()
    radius = max(1, round(min(image.shape[:2]) / 200))
    for x, y in points:
        cv2.circle(image, (round(float(x)), round(float(y))), radius, (40, 230, 40), -1)
    inverse = cv2.invertAffineTransform(crop_matrix)
    corners = np.array([[0, 0], [TILE, 0], [TILE, TILE], [0, TILE]], np.float64)
    outline = corners @ inverse[:, :2].T + inverse[:, 2]
    cv2.polylines(image, [outline.round().astype(np.int32)], True, (240, 200, 30), radius)
    scale = PANEL_HEIGHT / image.shape[0]
    size = (max(1, round(image.shape[1] * scale)), PANEL_HEIGHT)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def render_contact_sheet(
    track: LipTrack,
    title: str,
    frame_rgb: np.ndarray | None = None,
    frame_index: int = -1,
    crop_matrix: np.ndarray | None = None,
) -> np.ndarray:
    """The sheet as an RGB image (H, W, 3) uint8; the frame panel needs all three frame args."""
    import cv2

    columns = []  # left to right: annotated frame, aligned face, mouth grid
    if frame_rgb is not None and crop_matrix is not None and 0 <= frame_index < track.num_frames:
        columns.append(_annotated_frame(frame_rgb, track.landmarks[frame_index], crop_matrix))
    if track.face_crop is not None:
        columns.append(cv2.resize(track.face_crop, (TILE * 2, TILE * 2)))
    columns.append(_mouth_grid(track))
    height = max(c.shape[0] for c in columns) + 28
    width = sum(c.shape[1] for c in columns) + 8 * (len(columns) + 1)
    sheet = np.full((height, width, 3), 24, np.uint8)
    x = 8
    for column in columns:
        sheet[28 : 28 + column.shape[0], x : x + column.shape[1]] = column
        x += column.shape[1] + 8
    valid = int(track.valid.sum())
    text = f"{title}  |  {track.num_frames} frames @ {track.fps:g} fps, face on {valid}"
    cv2.putText(sheet, text, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235,) * 3, 1)
    return sheet


def write_png(image_rgb: np.ndarray, path: Path) -> None:
    """Write an RGB image as PNG atomically (never a half-written file at `path`)."""
    import cv2

    ok, data = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode PNG for '{path}'")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())
