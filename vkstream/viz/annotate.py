"""One operator-readable RGB panel per received result: what the robot sees, what it tracks, how far.

Layout, top to bottom: a header (stream, seq, latency, drops, state reset), the panoptic overlay
with thing contours and ``class #track`` labels, the colourised depth with each thing's distance,
and a metres scale bar. Stacking vertically suits the wide KITTI-like frames (621x188) best.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import cv2
import numpy as np

from vkstream.client import Segment, StreamResult
from vkstream.data import LabelSpace, colorize_depth, colorize_panoptic

MIN_WIDTH = 480
"""Small frames are upscaled by an integer factor to at least this width so labels stay legible."""
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_BAND = (32, 32, 32)
_RESET = (255, 160, 0)
_DEPTH_TICKS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

Rect = tuple[int, int, int, int]


def annotate(
    result: StreamResult,
    image: np.ndarray | None = None,
    *,
    alpha: float = 0.5,
    max_depth: float = 80.0,
    scale: int | None = None,
) -> np.ndarray:
    """HxWx3 uint8 RGB panel of ``result`` for an operator.

    ``image`` (HxWx3 RGB or HxW grey uint8; resized to the result's size if it differs) lies under the
    panoptic colours at ``1 - alpha``; without it the colour map is shown alone. ``max_depth`` ends the
    depth colour scale (as :func:`colorize_depth`). ``scale`` is the integer upscale of the maps; None
    picks the smallest that makes the panel at least :data:`MIN_WIDTH` wide.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = result.size
    s = max(1, math.ceil(MIN_WIDTH / width)) if scale is None else int(scale)
    if s < 1:
        raise ValueError(f"scale must be a positive int, got {scale}")
    font = float(np.clip(width * s / 1500.0, 0.4, 0.8))

    overlay = _upscale(colorize_result(result), s)
    if image is not None:
        camera = _as_rgb(image, (width * s, height * s))
        overlay = cv2.addWeighted(overlay, alpha, camera, 1.0 - alpha, 0.0)
    depth = _upscale(colorize_depth(result.depth.astype(np.float32), max_depth), s)

    things = sorted((seg for seg in result.segments if seg.thing), key=lambda seg: -seg.depth_m)
    for seg in things:  # far first, so near objects' outlines and labels end up on top
        _draw_contour((overlay, depth), result.panoptic, seg, s)
    _draw_labels(overlay, things, s, font, lambda seg: f"{result.class_name(seg)} #{seg.track}", tracked=True)
    _draw_labels(depth, things, s, font, lambda seg: f"{seg.depth_m:.1f} m", tracked=False)

    separator = np.full((2, width * s, 3), _BAND, dtype=np.uint8)
    parts = [
        _header(result, width * s, font),
        overlay,
        separator,
        depth,
        _scale_bar(width * s, max_depth, font),
    ]
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def result_labels(result: StreamResult) -> LabelSpace:
    """The label space a result was published with; from a publisher that sends no palette or thing
    classes, generated colours and the thing classes its segments flag."""
    things = result.things if result.things is not None else {s.class_id for s in result.segments if s.thing}
    palette = None if result.palette is None else tuple(tuple(int(v) for v in c) for c in result.palette)
    return _label_space(tuple(result.classes), frozenset(things), palette)


@functools.lru_cache(maxsize=16)
def _label_space(
    classes: tuple[str, ...], things: frozenset[int], palette: tuple[tuple[int, ...], ...] | None
) -> LabelSpace:
    """One checked label space per publisher's labels: every result of a stream carries the same."""
    return LabelSpace.build(classes, things, palette)


def colorize_result(result: StreamResult) -> np.ndarray:
    """HxWx3 uint8 RGB of the result's panoptic map: class colours, one shade per tracked thing."""
    semantic = np.minimum(result.class_map, 255).astype(np.uint8)  # beyond the palette: black
    return colorize_panoptic(semantic, result.track_map, result_labels(result))


def overlay_result(
    result: StreamResult, image: np.ndarray, alpha: float = 0.5, colors: np.ndarray | None = None
) -> np.ndarray:
    """HxWx3 uint8 RGB: the panoptic colours at ``alpha`` over the camera ``image`` (resized to fit);
    ``colors``: :func:`colorize_result` of ``result``, where the caller has it already."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = result.size
    colors = colorize_result(result) if colors is None else colors
    return cv2.addWeighted(colors, alpha, _as_rgb(image, (width, height)), 1.0 - alpha, 0.0)


def _upscale(rgb: np.ndarray, s: int) -> np.ndarray:
    if s == 1:
        return np.ascontiguousarray(rgb)
    return np.ascontiguousarray(np.repeat(np.repeat(rgb, s, axis=0), s, axis=1))


def _as_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3))):
        raise ValueError(f"image must be HxW or HxWx3 uint8 RGB, got {image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if (image.shape[1], image.shape[0]) != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(image)


def _draw_contour(canvases: tuple[np.ndarray, ...], panoptic: np.ndarray, seg: Segment, s: int) -> None:
    x0, y0, x1, y1 = seg.bbox
    mask = (panoptic[y0:y1, x0:x1] == seg.id).astype(np.uint8)
    if not mask.any():
        return
    contours, _ = cv2.findContours(
        _upscale(mask, s), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(x0 * s, y0 * s)
    )
    for canvas in canvases:
        cv2.drawContours(canvas, contours, -1, _WHITE, max(1, s // 3), cv2.LINE_8)


def _draw_labels(
    canvas: np.ndarray,
    things: list[Segment],
    s: int,
    font: float,
    text_of: Callable[[Segment], str],
    *,
    tracked: bool,
) -> None:
    """Label each thing at its box, trying above, inside and below it to avoid earlier labels."""
    placed: list[Rect] = []
    height, width = canvas.shape[:2]
    for seg in things:
        if (tracked and seg.track == 0) or (not tracked and seg.depth_m <= 0):
            continue
        text = text_of(seg)
        (tw, th), base = cv2.getTextSize(text, _FONT, font, 1)
        x0, y0, _, y1 = (v * s for v in seg.bbox)
        x = int(np.clip(x0, 1, max(1, width - tw - 2)))
        candidates = (y0 - base - 2, y0 + th + 2, y1 + th + 2)  # baselines: above, inside top, below
        spots = [(x, int(np.clip(y, th + 1, height - base - 1))) for y in candidates]
        rects = [(sx, sy - th - 1, sx + tw, sy + base) for sx, sy in spots]
        pick = next((i for i, r in enumerate(rects) if not any(_overlap(r, p) for p in placed)), 0)
        placed.append(rects[pick])
        _text(canvas, text, spots[pick], font, _WHITE)


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _text(
    canvas: np.ndarray, text: str, origin: tuple[int, int], font: float, color: tuple[int, int, int]
) -> None:
    """Text that reads on any background: the glyphs over a dark halo one pixel wide.

    The halo is the glyph mask dilated, not a second, thicker putText: OpenCV 5 draws thicker text
    as a bolder font with wider advances, so such an outline drifts off the letters.
    """
    (tw, th), base = cv2.getTextSize(text, _FONT, font, 1)
    x, y = origin
    pad = 3
    x0, y0 = max(0, x - pad), max(0, y - th - pad)
    x1, y1 = min(canvas.shape[1], x + tw + pad), min(canvas.shape[0], y + base + pad)
    if x0 >= x1 or y0 >= y1:
        return
    glyphs = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.putText(glyphs, text, (x - x0, y - y0), _FONT, font, 255, 1, cv2.LINE_AA)
    halo = cv2.dilate(glyphs, np.ones((3, 3), np.uint8))[..., None] / 255.0
    ink = glyphs[..., None] / 255.0
    region = canvas[y0:y1, x0:x1] * (1.0 - halo)
    region = region * (1.0 - ink) + ink * np.asarray(color, dtype=np.float64)
    canvas[y0:y1, x0:x1] = np.rint(region).astype(np.uint8)


def _header(result: StreamResult, width: int, font: float) -> np.ndarray:
    main = (
        f"{result.stream}  seq {result.seq}  latency {result.latency_ms['total']:.1f} ms"
        f"  dropped {result.dropped}"
    )
    extra = "  STATE RESET" if result.state_reset else ""
    while font > 0.3 and cv2.getTextSize(main + extra, _FONT, font, 1)[0][0] > width - 8:
        font -= 0.05
    (tw, th), base = cv2.getTextSize(main, _FONT, font, 1)
    band = np.full((th + base + 8, width, 3), _BAND, dtype=np.uint8)
    _text(band, main, (4, th + 4), font, _WHITE)
    if extra:
        _text(band, extra, (4 + tw, th + 4), font, _RESET)
    return band


def _scale_bar(width: int, max_depth: float, font: float) -> np.ndarray:
    """A strip with the depth colour ramp and tick labels in metres, on the same log scale."""
    label_font = font * 0.9
    (_, th), base = cv2.getTextSize("0", _FONT, label_font, 1)
    bar_h, pad = max(6, th // 2 + 2), 6
    band = np.full((pad + bar_h + 4 + th + base + 4, width, 3), _BAND, dtype=np.uint8)
    x0, x1 = pad, width - pad
    t = np.linspace(0.0, 1.0, x1 - x0)
    metres = np.expm1(t * math.log1p(max_depth)).astype(np.float32)
    metres[0] = 1e-3  # 0 means "no depth" (black) to colorize_depth
    band[pad : pad + bar_h, x0:x1] = colorize_depth(metres[None, :], max_depth)
    last_right = -1
    ticks = [d for d in _DEPTH_TICKS if d < max_depth * 0.9] + [max_depth]
    for i, d in enumerate(ticks):
        x = x0 + round(math.log1p(d) / math.log1p(max_depth) * (x1 - x0 - 1))
        text = f"{d:g} m" if i == len(ticks) - 1 else f"{d:g}"
        tw = cv2.getTextSize(text, _FONT, label_font, 1)[0][0]
        left = int(np.clip(x - tw // 2, 2, width - tw - 2))
        if left <= last_right + 4:
            continue
        band[pad - 2 : pad + bar_h + 2, x] = _WHITE
        _text(band, text, (left, pad + bar_h + 4 + th), label_font, _WHITE)
        last_right = left + tw
    return band
