"""A still face made to talk: landmark targets from articulators and expression, then a warp.

The rig holds one identity's aligned photo and its 68 iBUG landmarks. For each video frame it
moves the landmarks (jaw, lips, lid, brow and mouth-corner displacements in units of the
face's own mouth width and eye distance), warps the photo so the landmarks land on their new
places (a thin-plate spline from output to source, evaluated on a coarse grid and
interpolated), and paints what a photo of a closed mouth cannot show: the inside of the mouth
with teeth and tongue. A small similarity transform on top gives head motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FRAME_SIZE = 256  # a multiple of 128: see media._yuv_frame
_GRID_STEP = 4  # px between exactly-warped grid points

# iBUG-68 index groups
JAW_WEIGHTS = {3: 0.1, 4: 0.3, 5: 0.55, 6: 0.8, 7: 0.95, 8: 1.0, 9: 0.95, 10: 0.8, 11: 0.55,
               12: 0.3, 13: 0.1}  # fmt: skip
OUTER_UPPER, OUTER_LOWER = [49, 50, 51, 52, 53], [55, 56, 57, 58, 59]
INNER_UPPER, INNER_LOWER = [61, 62, 63], [65, 66, 67]  # 61<->67, 62<->66, 63<->65 face each other
INNER = list(range(60, 68))
LEFT_EYE_UPPER, LEFT_EYE_LOWER = [37, 38], [41, 40]
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = [43, 44], [47, 46]
BROWS = list(range(17, 27))
INNER_BROWS = [20, 21, 22, 23]
# how far each lower-lip point (OUTER_LOWER + INNER_LOWER) drops with the lip gap
_LOWER_LIP_FOLLOW = np.array([0.55, 0.85, 1.0, 0.85, 0.55, 0.85, 1.0, 0.85])
# how much of a mouth corner's sideways motion each lip point follows
_CORNER_FOLLOW = {48: 1.0, 49: 0.6, 59: 0.6, 50: 0.25, 58: 0.25, 60: 0.9, 61: 0.4, 67: 0.4}
_CORNER_FOLLOW_RIGHT = {54: 1.0, 53: 0.6, 55: 0.6, 52: 0.25, 56: 0.25, 64: 0.9, 63: 0.4, 65: 0.4}


@dataclass(frozen=True)
class FacePose:
    """Everything that moves a face in one frame (articulators 0..1, expression, head)."""

    jaw: float = 0.0
    spread: float = 0.0
    round: float = 0.0
    close: float = 0.0
    labiodental: float = 0.0
    smile: float = 0.0  # mouth corners up (+) or down (-)
    brow_raise: float = 0.0  # whole brows up (+) or down (-)
    brow_inner: float = 0.0  # inner brows up (+, sad) or down and together (-, angry)
    eye_open: float = 0.0  # lids wider (+) or narrower (-)
    blink: float = 0.0  # 0 open .. 1 closed
    head: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # roll (rad), dx, dy, log-scale


def _close_mouth(points: np.ndarray) -> np.ndarray:
    """The same face with its lips together: an open source mouth is closed for the neutral."""
    out = points.copy()
    gap = float(np.mean(points[INNER_LOWER, 1] - points[INNER_UPPER, 1]))
    if gap > 0:
        out[OUTER_LOWER + INNER_LOWER, 1] -= gap
        for k, w in JAW_WEIGHTS.items():
            out[k, 1] -= gap * w
    middle = (out[INNER_UPPER] + out[INNER_LOWER]) / 2
    out[INNER_UPPER] = middle - np.array([0.0, 0.3])
    out[INNER_LOWER] = middle + np.array([0.0, 0.3])
    return out


def _tps_solve(control: np.ndarray, values: np.ndarray, smooth: float = 1e-2) -> np.ndarray:
    """Thin-plate spline coefficients mapping `control` (N,2) points to `values` (N,2)."""
    n = len(control)
    d2 = np.sum((control[:, None] - control[None]) ** 2, axis=-1)
    k = 0.5 * d2 * np.log(d2 + 1e-12) + smooth * np.eye(n)
    p = np.hstack([np.ones((n, 1)), control])
    a = np.zeros((n + 3, n + 3))
    a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
    b = np.zeros((n + 3, 2))
    b[:n] = values
    return np.linalg.solve(a, b)


def _tps_eval(coef: np.ndarray, control: np.ndarray, points: np.ndarray) -> np.ndarray:
    # squared distances through one matrix product (much faster than broadcasting)
    d2 = (points**2).sum(1)[:, None] + (control**2).sum(1)[None, :] - 2.0 * points @ control.T
    np.maximum(d2, 1e-12, out=d2)
    u = 0.5 * d2 * np.log(d2)
    n = len(control)
    return u @ coef[:n] + coef[n] + points @ coef[n + 1 :]


def _border_points(size: int, count: int = 5) -> np.ndarray:
    ticks = np.linspace(0, size - 1, count)
    edge = [(t, 0) for t in ticks] + [(t, size - 1) for t in ticks]
    edge += [(0, t) for t in ticks[1:-1]] + [(size - 1, t) for t in ticks[1:-1]]
    return np.array(edge, np.float64)


def warp_landmarks(
    image: np.ndarray, source: np.ndarray, target: np.ndarray, head: np.ndarray | None = None
) -> np.ndarray:
    """Warp a square `image` so its `source` landmarks land on `target`, then apply `head`.

    A thin-plate spline maps output points back to the source (the image border stays put),
    evaluated exactly on a grid every few pixels and bilinearly in between.
    """
    size = image.shape[0]
    border = _border_points(size)
    control = np.vstack([target, border])
    coef = _tps_solve(control, np.vstack([source, border]))
    ticks = np.arange(0, size + _GRID_STEP, _GRID_STEP, dtype=np.float64)
    gx, gy = np.meshgrid(ticks, ticks)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    if head is not None:
        inverse = cv2.invertAffineTransform(head)
        grid = grid @ inverse[:, :2].T + inverse[:, 2]
    src = _tps_eval(coef, control, grid).astype(np.float32)
    maps = [
        cv2.resize(src[:, k].reshape(gx.shape), None, fx=_GRID_STEP, fy=_GRID_STEP)[:size, :size]
        for k in (0, 1)
    ]
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


class FaceRig:
    """Animate one aligned face photo (FRAME_SIZE square, RGB) with its landmarks."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray) -> None:
        self.image = np.ascontiguousarray(image)
        self.size = image.shape[0]
        self.source = landmarks.astype(np.float64)
        self.neutral = _close_mouth(self.source)
        self.mouth_width = float(np.linalg.norm(self.neutral[54] - self.neutral[48]))
        eyes = self.neutral[36:42].mean(0), self.neutral[42:48].mean(0)
        self.eye_distance = float(np.linalg.norm(eyes[1] - eyes[0]))
        self.centre = self.neutral[27:36].mean(0)
        lips = self.source[48:60].round().astype(np.int32)
        mask = np.zeros(self.image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [lips], 255)
        cv2.fillPoly(mask, [self.source[60:68].round().astype(np.int32)], 0)
        self.lip_colour = np.array(cv2.mean(self.image, mask)[:3])
        self.lid_colours = [self._lid_colour(list(eye)) for eye in (range(36, 42), range(42, 48))]

    def _lid_colour(self, eye: list[int]) -> np.ndarray:
        """Skin colour of the upper eyelid: the band just above the eye's upper edge."""
        points = self.source[eye]
        height = max(float(points[:, 1].max() - points[:, 1].min()), 2.0)
        x0, x1 = int(points[:, 0].min()), int(points[:, 0].max()) + 1
        y1 = max(int(points[1:3, 1].min() - 0.3 * height), 1)
        y0 = max(int(y1 - 0.8 * height), 0)
        patch = self.image[y0 : max(y1, y0 + 1), x0:x1].reshape(-1, 3)
        return np.median(patch, axis=0) if len(patch) else np.array([180.0, 150.0, 130.0])

    def landmarks(self, pose: FacePose) -> np.ndarray:
        """Where the 68 landmarks are in the output frame for `pose` (before head motion)."""
        p = self.neutral.copy()
        w, e = self.mouth_width, self.eye_distance
        jaw = w * 0.5 * pose.jaw
        gap = jaw * (1 - pose.close) * (1 - 0.85 * pose.labiodental)
        gap = max(gap, w * 0.08 * pose.round * (1 - pose.close))
        for k, weight in JAW_WEIGHTS.items():
            p[k, 1] += jaw * weight
        p[OUTER_LOWER + INNER_LOWER, 1] += 0.9 * gap * _LOWER_LIP_FOLLOW
        p[INNER_UPPER, 1] -= 0.1 * gap * np.array([0.7, 1.0, 0.7])
        p[OUTER_LOWER, 1] -= w * 0.05 * pose.labiodental  # lower lip up under the teeth
        p[[50, 51, 52], 1] -= w * 0.04 * pose.round  # rounded lips pout
        p[[56, 57, 58], 1] += w * 0.04 * pose.round
        side = w * (0.10 * pose.spread - 0.16 * pose.round - 0.03 * min(pose.brow_inner, 0))
        side += w * 0.05 * max(pose.smile, 0)
        for follow, sign in ((_CORNER_FOLLOW, -1.0), (_CORNER_FOLLOW_RIGHT, 1.0)):
            for k, share in follow.items():
                p[k, 0] += sign * side * share
                p[k, 1] -= w * 0.12 * pose.smile * share
        p[BROWS, 1] -= e * 0.16 * pose.brow_raise
        p[INNER_BROWS, 1] -= e * 0.12 * pose.brow_inner
        p[[21, 22], 0] += np.array([1.0, -1.0]) * e * 0.06 * min(pose.brow_inner, 0) * -1
        for upper, lower in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)):
            height = p[lower, 1] - p[upper, 1]
            widen = np.clip(pose.eye_open, -0.6, 0.5)
            p[upper, 1] -= height * widen
        return p

    def head_matrix(self, pose: FacePose) -> np.ndarray:
        """2x3 similarity: the head's roll, shift and scale about the face centre."""
        roll, dx, dy, log_scale = pose.head
        scale = float(np.exp(log_scale))
        c, s = scale * np.cos(roll), scale * np.sin(roll)
        cx, cy = self.centre
        return np.array([[c, -s, cx - c * cx + s * cy + dx], [s, c, cy - s * cx - c * cy + dy]])

    def render(self, pose: FacePose) -> tuple[np.ndarray, np.ndarray]:
        """The frame for `pose` (RGB uint8) and where its landmarks are in it (68, 2)."""
        target = self.landmarks(pose)
        head = self.head_matrix(pose)
        frame = warp_landmarks(self.image, self.source, target, head)
        placed = target @ head[:, :2].T + head[:, 2]
        _paint_mouth(frame, placed, self.mouth_width, self.lip_colour)
        if pose.blink > 0.02:
            for eye, skin in zip((range(36, 42), range(42, 48)), self.lid_colours, strict=True):
                _paint_eyelid(frame, placed[list(eye)], skin, min(pose.blink, 1.0))
        return frame, placed.astype(np.float32)


_SUPERSAMPLE = 4  # paint at 4x and shrink: smooth edges


def _paint_box(
    points: np.ndarray, frame: np.ndarray, before: int, after: int
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around `points` with margins, inside the frame; None if empty."""
    x0, y0 = np.floor(points.min(0)).astype(int) - before
    x1, y1 = np.ceil(points.max(0)).astype(int) + after
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def _composite(
    frame: np.ndarray, box: tuple[int, int, int, int], paint: np.ndarray, alpha: np.ndarray
) -> None:
    """Shrink a supersampled `paint` (float RGB) and its `alpha` (0..255) into `box` of frame."""
    x0, y0, x1, y1 = box
    size = (x1 - x0, y1 - y0)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = alpha[..., None] / 255.0
    small = cv2.resize(paint, size, interpolation=cv2.INTER_AREA)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + small * alpha, 0, 255).astype(np.uint8)


def _paint_eyelid(frame: np.ndarray, eye: np.ndarray, skin: np.ndarray, closed: float) -> None:
    """Lower an eyelid over the eye (six points 36-41 or 42-47): skin above, a dark lash line.

    Warping the lid down would drag the brow with it; a blink is painted instead, the way
    the lid covers the eyeball.
    """
    upper, lower = eye[[0, 1, 2, 3]], eye[[0, 5, 4, 3]]
    lid_edge = upper + (lower - upper) * closed
    box = _paint_box(eye, frame, 2, 3)
    if box is None:
        return
    x0, y0, x1, y1 = box
    scale = _SUPERSAMPLE
    h, w = (y1 - y0) * scale, (x1 - x0) * scale
    lid = np.vstack([upper, lid_edge[::-1]]) - (x0, y0)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [(lid * scale).round().astype(np.int32)], 255)
    mask = cv2.GaussianBlur(mask, (0, 0), scale * 0.6)
    lash = np.zeros((h, w), np.uint8)
    line = ((lid_edge - (x0, y0)) * scale).round().astype(np.int32)
    cv2.polylines(lash, [line], False, 255, thickness=max(1, int(scale * 1.2 * closed)))
    lash = cv2.GaussianBlur(lash, (0, 0), scale * 0.5)
    paint = np.empty((h, w, 3), np.float32)
    shade = np.linspace(1.02, 0.88, h, dtype=np.float32)[:, None, None]
    paint[:] = skin * shade
    lash_f = (lash.astype(np.float32) / 255.0)[..., None]
    paint = paint * (1 - 0.8 * lash_f) + 25.0 * 0.8 * lash_f
    _composite(frame, box, paint, np.maximum(mask, lash).astype(np.float32))


def _paint_mouth(frame: np.ndarray, points: np.ndarray, width: float, lip: np.ndarray) -> None:
    """Paint the inside of an open mouth (dark cavity, upper teeth, tongue) in place."""
    inner = points[INNER]
    gap = float(np.mean(points[INNER_LOWER, 1] - points[INNER_UPPER, 1]))
    box = _paint_box(inner, frame, 3, 4) if gap >= 1.0 else None
    if box is None:
        return
    x0, y0, x1, y1 = box
    scale = _SUPERSAMPLE
    local = (inner - (x0, y0)) * scale  # rows are points 60..67
    h, w = (y1 - y0) * scale, (x1 - x0) * scale
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [local.round().astype(np.int32)], 255)
    cavity = np.empty((h, w, 3), np.float32)
    depth = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    cavity[:] = lip * 0.22 * (1.0 - 0.5 * depth)
    tongue = np.zeros((h, w), np.uint8)
    lower = local[[0, 7, 6, 5, 4]]  # 60, 67, 66, 65, 64
    tongue_top = lower - (0, min(gap * 0.35, width * 0.08) * scale)
    cv2.fillPoly(tongue, [np.vstack([lower, tongue_top[::-1]]).round().astype(np.int32)], 255)
    cavity[tongue > 0] = lip * 0.55
    teeth_height = min(gap * 0.3, width * 0.09) * scale
    upper = local[[0, 1, 2, 3, 4]]  # 60, 61, 62, 63, 64
    band = (
        np.vstack([upper, (upper + np.array([0.0, teeth_height]))[::-1]]).round().astype(np.int32)
    )
    teeth = np.zeros((h, w), np.uint8)
    cv2.fillPoly(teeth, [band], 255)
    shade = np.clip(1.0 - 0.6 * np.abs(np.linspace(-1, 1, w, dtype=np.float32)) ** 3, 0, 1)
    cavity[teeth > 0] = (np.array([226.0, 222.0, 210.0]) * shade[:, None])[np.nonzero(teeth > 0)[1]]
    _composite(frame, box, cavity, mask)
