"""Render passes to uint8 RGB images for viewing and video: depth, instance mask, normals, flow.

Every function is pure numpy, vectorised over any leading dimensions: a single frame ``(H, W,
...)`` gives ``(H, W, 3)``, a clip ``(T, H, W, ...)`` gives ``(T, H, W, 3)``, always ``uint8``
and C-contiguous. Pixels without geometry ("background") are black (0, 0, 0) in the depth,
mask and normal images. Automatic ranges (depth near/far, flow magnitude) are computed over the
whole input, so the colours of a clip do not flicker from frame to frame.

Conventions (image axes: x to the right, y down, as in the OpenCV pixel convention):

- depth: metric depth [m]; ``depth <= 0`` or non-finite is background. Nearer is brighter:
  with the default ``"viridis"`` map ``near`` is yellow and ``far`` dark purple.
- mask: integer instance ids; 0 background (black), 1 ground (grey 128), ids >= 2 get distinct
  saturated colours from :func:`mask_palette` (deterministic: the same id always has the same
  colour).
- normals: unit vectors mapped by ``(n + 1) / 2`` to RGB (+x red, +y green, +z blue); zero or
  non-finite vectors are background.
- flow: forward optical flow [px] as (dx, dy). Hue is the direction, as in OpenCV's
  ``cartToPolar`` (angle from +x towards +y): right (+x) red, down (+y) chartreuse, left (-x)
  cyan, up (-y) violet. Saturation is the magnitude over ``max_magnitude``: zero flow is white,
  ``|flow| >= max_magnitude`` fully saturated; beyond ``max_magnitude`` the value drops to 0.75
  to flag clipping. Non-finite flow is black. :func:`colour_wheel` draws the legend.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

from video_bridge.errors import VideoError

__all__ = [
    "GROUND_ID",
    "colour_wheel",
    "depth_to_rgb",
    "flow_to_rgb",
    "mask_palette",
    "mask_to_rgb",
    "normals_to_rgb",
]

logger = logging.getLogger("emu4d.video_bridge")

GROUND_ID = 1
"""Instance id of the ground plane in mask images (0 is background, tracks start at 2)."""

_GROUND_RGB = (128, 128, 128)
_GOLDEN = 0.6180339887498949  # golden-ratio hue step: consecutive ids get well-separated hues
# saturation and value cycles of coprime lengths (2 and 3): ids whose golden-ratio hues nearly
# coincide (k and k + 21, a Fibonacci number) still differ in brightness or saturation
_PALETTE_SATURATION = (0.9, 0.65)
_PALETTE_VALUE = (1.0, 0.8, 0.6)
_FLOW_CLIPPED_VALUE = 0.75
_LUT_SIZE = 256


def _float_array(x: object, what: str, channels: int | None) -> np.ndarray:
    """``x`` as a float array of shape (..., H, W) or (..., H, W, channels); VideoError if not."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise VideoError(f"{what} must be a real numeric array, got dtype {arr.dtype}")
    if channels is None:
        if arr.ndim < 2:
            raise VideoError(f"{what} must have shape (H, W) or (T, H, W), got {arr.shape}")
    elif arr.ndim < 3 or arr.shape[-1] != channels:
        raise VideoError(
            f"{what} must have shape (H, W, {channels}) or (T, H, W, {channels}), got {arr.shape}"
        )
    return arr.astype(np.float32, copy=False)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV in [0, 1] (any equal shapes) to RGB floats in [0, 1], shape (..., 3)."""
    h, s, v = (np.asarray(a, dtype=np.float32)[..., None] for a in (h, s, v))
    n = np.array([5.0, 3.0, 1.0], dtype=np.float32)  # R, G, B phase of the hexcone
    k = (n + 6.0 * h) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _to_uint8(rgb01: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(np.rint(rgb01 * 255.0), 0, 255).astype(np.uint8))


@functools.lru_cache(maxsize=8)
def _colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colormap (matplotlib imported on demand)."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise VideoError(
            f"unknown colormap {name!r}; use a matplotlib colormap name such as 'viridis', "
            "'magma', 'turbo' or 'gray'"
        ) from None
    lut = cmap(np.linspace(0.0, 1.0, _LUT_SIZE))[:, :3]
    lut = _to_uint8(lut)
    lut.setflags(write=False)
    return lut


def depth_to_rgb(
    depth: np.ndarray,
    near: float | None = None,
    far: float | None = None,
    cmap: str = "viridis",
) -> np.ndarray:
    """Colour a metric depth map; nearer is brighter, background black.

    Args:
        depth: depth along the camera axis [m], shape (H, W) or (T, H, W), any real dtype.
            Values ``<= 0``, NaN and inf are background.
        near, far: depths [m] mapped to the top and bottom of the colormap; default the
            minimum and maximum valid depth of the whole input. Depths outside are clipped to
            the end colours (they stay visible, unlike background).
        cmap: a matplotlib colormap name; its top end is used for ``near``.

    Returns:
        (H, W, 3) or (T, H, W, 3) uint8 RGB.
    """
    d = _float_array(depth, "depth", None)
    valid = np.isfinite(d) & (d > 0)
    out = np.zeros((*d.shape, 3), dtype=np.uint8)
    if not valid.any():
        logger.debug("depth_to_rgb: no valid depth, returning a black image")
        return out
    lo = float(d[valid].min()) if near is None else float(near)
    hi = float(d[valid].max()) if far is None else float(far)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo >= 0):
        raise VideoError(f"depth near/far must be finite and >= 0, got near={lo}, far={hi}")
    if near is not None and far is not None and not hi > lo:
        raise VideoError(f"depth far must be greater than near, got near={lo} m, far={hi} m")
    if hi < lo:  # one bound given, all valid depths beyond it: collapse onto the given bound
        lo, hi = (lo, lo) if near is not None else (hi, hi)
    span = hi - lo
    # t = 1 at near, 0 at far; with span 0 (constant depth) depths <= the bound get the near
    # colour, deeper ones the far colour
    t = (d <= hi).astype(np.float32) if span == 0 else np.clip((hi - d) / span, 0.0, 1.0)
    index = np.rint(np.where(valid, t, 0.0) * (_LUT_SIZE - 1)).astype(np.intp)
    out[valid] = _colormap_lut(cmap)[index[valid]]
    return out


def mask_palette(num_ids: int) -> np.ndarray:
    """The default instance colours: (num_ids, 3) uint8, row k the colour of id k.

    Row 0 is black (background), row 1 grey 128 (ground), rows k >= 2 step the hue by the
    golden ratio with cycles of saturation/value levels, so ids differ clearly (the first 30
    colours are at least 45 apart in RGB) and none is grey or black. Deterministic: id k has
    the same colour whatever ``num_ids``.
    """
    if num_ids < 0:
        raise VideoError(f"num_ids must be >= 0, got {num_ids}")
    k = np.arange(max(num_ids - 2, 0))
    hue = (k * _GOLDEN) % 1.0
    sat = np.asarray(_PALETTE_SATURATION)[k % len(_PALETTE_SATURATION)]
    val = np.asarray(_PALETTE_VALUE)[k % len(_PALETTE_VALUE)]
    colours = _to_uint8(_hsv_to_rgb(hue, sat, val))
    head = np.array([(0, 0, 0), _GROUND_RGB], dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate([head, colours])[:num_ids])


def mask_to_rgb(mask: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """Colour an instance mask.

    Args:
        mask: instance ids, shape (H, W) or (T, H, W), integer or bool, all >= 0.
            0 is background (black), 1 the ground (grey), k >= 2 the tracks.
        palette: (K, 3) uint8 colours indexed by id (K > max id); default
            :func:`mask_palette`.

    Returns:
        (H, W, 3) or (T, H, W, 3) uint8 RGB.
    """
    m = np.asarray(mask)
    if m.dtype.kind not in "biu":
        raise VideoError(
            f"mask must hold integer instance ids, got dtype {m.dtype}; convert it with "
            ".astype(np.int32) if the values are whole numbers"
        )
    if m.ndim < 2:
        raise VideoError(f"mask must have shape (H, W) or (T, H, W), got {m.shape}")
    m = m.astype(np.intp, copy=False)
    top = int(m.max()) if m.size else 0
    if m.size and int(m.min()) < 0:
        raise VideoError(f"mask ids must be >= 0 (0 is background), got {int(m.min())}")
    if palette is None:
        colours = mask_palette(top + 1)
    else:
        colours = np.asarray(palette)
        if colours.dtype != np.uint8 or colours.ndim != 2 or colours.shape[1] != 3:
            raise VideoError(
                f"palette must be a (K, 3) uint8 array, got {colours.dtype} {colours.shape}"
            )
        if top >= colours.shape[0]:
            raise VideoError(
                f"mask holds id {top} but the palette has only {colours.shape[0]} colours; "
                f"pass a palette with at least {top + 1} rows (see mask_palette)"
            )
    return np.ascontiguousarray(colours[m])


def normals_to_rgb(normals: np.ndarray) -> np.ndarray:
    """Colour unit normals by ``rgb = (n + 1) / 2``; zero or non-finite vectors are black.

    Args:
        normals: (H, W, 3) or (T, H, W, 3) float unit vectors in any frame (world or camera;
            the mapping does not care). Components are clipped to [-1, 1].

    Returns:
        Same leading shape, (..., 3) uint8 RGB.
    """
    n = _float_array(normals, "normals", 3)
    finite = np.isfinite(n).all(axis=-1)
    valid = finite & (np.einsum("...i,...i->...", np.where(finite[..., None], n, 0), n) > 1e-12)
    rgb = (np.clip(np.where(valid[..., None], n, 0.0), -1.0, 1.0) + 1.0) * 0.5
    out = _to_uint8(rgb)
    out[~valid] = 0
    return out


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour optical flow with the HSV wheel (hue = direction, saturation = magnitude).

    Args:
        flow: forward flow [px], (H, W, 2) or (T, H, W, 2) as (dx, dy) with x right, y down.
        max_magnitude: magnitude [px] drawn fully saturated; default the 99th percentile of
            the finite non-zero magnitudes of the whole input (1 px when nothing moves).

    Returns:
        Same leading shape, (..., 3) uint8 RGB. Zero flow is white, +x red, +y chartreuse,
        -x cyan, -y violet; non-finite flow black.
    """
    f = _float_array(flow, "flow", 2)
    valid = np.isfinite(f).all(axis=-1)
    u = np.where(valid, f[..., 0], 0.0)
    v = np.where(valid, f[..., 1], 0.0)
    magnitude = np.hypot(u, v)
    if max_magnitude is None:
        moving = magnitude[valid & (magnitude > 0)]  # static background would bias it to 0
        scale = float(np.percentile(moving, 99)) if moving.size else 1.0
    else:
        scale = float(max_magnitude)
        if not (math.isfinite(scale) and scale > 0):
            raise VideoError(f"max_magnitude must be a positive number of pixels, got {scale}")
    r = magnitude / scale
    hue = (np.arctan2(v, u) / (2.0 * np.pi)) % 1.0
    sat = np.minimum(r, 1.0)
    val = np.where(r > 1.0, _FLOW_CLIPPED_VALUE, 1.0)
    out = _to_uint8(_hsv_to_rgb(hue, sat, val))
    out[~valid] = 0
    return out


def colour_wheel(size: int = 128) -> np.ndarray:
    """Legend for :func:`flow_to_rgb`: (size, size, 3) uint8, black outside the disc.

    The pixel at offset (dx, dy) from the centre shows the colour of flow (dx, dy) when the
    disc radius is ``max_magnitude``; the right edge is red, the bottom chartreuse.
    """
    if size < 2:
        raise VideoError(f"colour_wheel size must be >= 2 pixels, got {size}")
    radius = size / 2.0
    centre = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = np.stack([x - centre, y - centre], axis=-1)
    outside = np.hypot(flow[..., 0], flow[..., 1]) > radius
    flow[outside] = np.nan
    return flow_to_rgb(flow, max_magnitude=radius)
