"""Video and image files: MP4 (H.264) writing and reading, PNG sequences, contact sheets, panels.

Frames are ``uint8`` RGB arrays: one frame ``(H, W, 3)``, a clip ``(T, H, W, 3)`` (or any
iterable of frames, consumed one at a time so long clips need not be held in memory). Turn
depth, masks, normals and flow into such frames with :mod:`video_bridge.colorize`.

Every file is written atomically (:mod:`mpm.fileio`): under a temporary name in the destination
directory, renamed into place only when complete, so a failure leaves any previous file intact.
ffmpeg is the binary shipped with ``imageio-ffmpeg``; no system ffmpeg is needed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from mpm.fileio import atomic_directory, atomic_path
from video_bridge.errors import VideoCodecError, VideoError, VideoNotFoundError

__all__ = [
    "contact_sheet",
    "read_video",
    "save_png",
    "side_by_side",
    "video_info",
    "write_mp4",
    "write_png_sequence",
]

logger = logging.getLogger("emu4d.video_bridge")

MP4_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
"""File suffixes :func:`write_mp4` accepts (ffmpeg chooses the container from the suffix)."""

_MAX_SEQUENCE_FRAMES = 100_000  # names are {prefix}_{i:05d}.png
_STDERR_TAIL = 2000  # characters of ffmpeg's stderr quoted in an error
# RGB -> limited-range BT.709 YUV, tagged as such so players and decoders convert back alike
_BT709_FILTER = (
    "scale=out_color_matrix=bt709:out_range=tv,"
    "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709"
)


# ------------------------------------------------------------------------------ validation
def _check_frame(frame: Any, index: int, channels: tuple[int, ...] = (3,)) -> np.ndarray:
    """One frame as a uint8 array (H, W, 3) (or another channel count in ``channels``)."""
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise VideoError(
            f"frame {index} has dtype {arr.dtype}; frames must be uint8 RGB. Convert floats in "
            "[0, 1] with (img * 255).round().astype(np.uint8), or colour a render pass with "
            "video_bridge.colorize"
        )
    ok = (arr.ndim == 3 and arr.shape[2] in channels) or (arr.ndim == 2 and 1 in channels)
    if not ok or arr.shape[0] == 0 or arr.shape[1] == 0:
        want = " or ".join("(H, W)" if c == 1 else f"(H, W, {c})" for c in channels)
        raise VideoError(f"frame {index} has shape {arr.shape}; expected {want} with H, W >= 1")
    return arr


def _iter_frames(frames: Any, what: str = "frames") -> Iterator[np.ndarray]:
    """Yield the frames of a (T, H, W, 3) array or of an iterable of frames (unchecked)."""
    if isinstance(frames, (str, bytes, Path)):
        raise VideoError(
            f"{what} must be an array (T, H, W, 3) or an iterable of frames, got "
            f"{type(frames).__name__}"
        )
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise VideoError(
                f"{what} array must have shape (T, H, W, 3), got {frames.shape}; a single "
                "image is frames[None]"
            )
        yield from frames
        return
    try:
        iterator = iter(frames)
    except TypeError:
        raise VideoError(
            f"{what} must be an array (T, H, W, 3) or an iterable of frames, got "
            f"{type(frames).__name__}"
        ) from None
    yield from iterator


def _checked_frames(
    frames: Any, channels: tuple[int, ...] = (3,), what: str = "frames"
) -> Iterator[np.ndarray]:
    """Validated frames, all of the shape of the first; VideoError when there are none."""
    shape: tuple[int, ...] | None = None
    for i, frame in enumerate(_iter_frames(frames, what)):
        arr = _check_frame(frame, i, channels)
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise VideoError(
                f"frame {i} has shape {arr.shape} but frame 0 has {shape}; all frames of a "
                "video must have the same size"
            )
        yield arr
    if shape is None:
        raise VideoError(f"no {what} given: at least one frame is needed")


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) frame by one replicated row / column when H or W is odd."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_h or pad_w:
        frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


# ----------------------------------------------------------------------------------- MP4
def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise VideoCodecError(
            f"imageio-ffmpeg is required for video files ({err}); pip install imageio-ffmpeg"
        ) from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def _stderr_tail(stream: Any) -> str:
    stream.seek(0)
    text = stream.read().decode("utf-8", errors="replace").strip()
    return text[-_STDERR_TAIL:] or "(no output)"


def write_mp4(
    frames: np.ndarray | Iterable[np.ndarray],
    path: str | Path,
    fps: float = 30,
    quality: float = 7.0,
    preset: str = "medium",
) -> Path:
    """Encode frames to an H.264 (libx264, yuv420p) MP4 that browsers and players accept.

    Args:
        frames: uint8 RGB, an array (T, H, W, 3) or an iterable of (H, W, 3) arrays, all of one
            size. An iterable is streamed to ffmpeg frame by frame.
        path: output file; the suffix picks the container (.mp4, .m4v, .mov or .mkv).
        fps: frame rate [1/s], stored in the file (fractions such as 30000/1001 are kept).
        quality: 0 (worst) to 10 (best); mapped to the x264 constant rate factor
            ``crf = round(51 * (1 - quality / 10))`` (7 gives crf 15, visually lossless; the
            half-resolution colour of yuv420p is lost at any setting).
        preset: x264 speed/size trade-off ("ultrafast" ... "veryslow").

    Returns:
        ``path`` as a Path.

    yuv420p stores colour at half resolution, so H.264 needs even sizes: a frame with an odd
    height or width gets one extra bottom row / right column copied from its edge (63x47 is
    written as 64x48). Colours are tagged BT.709 (limited range), the convention of players.
    The file is written atomically: on any error an existing ``path`` is left untouched.

    Raises:
        VideoError: no frames, a frame that is not uint8 (H, W, 3), frames of different sizes,
            a bad fps / quality / suffix.
        VideoCodecError: ffmpeg failed (its message is included).
    """
    if isinstance(frames, (str, PathLike)) or not isinstance(path, (str, PathLike)):
        raise VideoError(
            f"write_mp4(frames, path): path must be a file name, got {type(path).__name__}; "
            "are the two arguments swapped?"
        )
    path = Path(path)
    if path.suffix.lower() not in MP4_SUFFIXES:
        raise VideoError(
            f"video path {str(path)!r} must end in one of {', '.join(MP4_SUFFIXES)} (the "
            "suffix selects the container)"
        )
    try:
        rate = Fraction(fps).limit_denominator(1_000_000)
    except (TypeError, ValueError):
        raise VideoError(f"fps must be a positive number, got {fps!r}") from None
    if not rate > 0:
        raise VideoError(f"fps must be a positive number, got {fps!r}")
    try:
        level = float(quality)
    except (TypeError, ValueError):
        level = math.nan
    if not 0 <= level <= 10:
        raise VideoError(f"quality must be a number in [0, 10], got {quality!r}")
    crf = round(51 * (1 - level / 10))

    stream = _checked_frames(frames)
    first = next(stream)
    height, width = first.shape[:2]
    out_w, out_h = width + width % 2, height + height % 2
    if (out_w, out_h) != (width, height):
        logger.info(
            "write_mp4: padding %dx%d frames to %dx%d (H.264 yuv420p needs even sizes)",
            width,
            height,
            out_w,
            out_h,
        )
    exe = _ffmpeg_exe()

    with atomic_path(path) as tmp, tempfile.TemporaryFile() as errors:
        cmd = [
            exe, "-y", "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{out_w}x{out_h}",
            "-framerate", f"{rate.numerator}/{rate.denominator}", "-i", "pipe:0",
            "-an", "-vf", _BT709_FILTER,
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        ]  # fmt: skip
        if tmp.suffix.lower() in (".mp4", ".m4v", ".mov"):
            cmd += ["-movflags", "+faststart"]  # index first: playable while downloading
        cmd.append(str(tmp))
        logger.debug("write_mp4: %s", " ".join(cmd))
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
            )
        except OSError as err:
            raise VideoCodecError(f"could not start ffmpeg ({exe}): {err}") from err
        stdin = proc.stdin
        if stdin is None:  # pragma: no cover - stdin=PIPE always gives a pipe
            raise VideoCodecError("could not open a pipe to ffmpeg")
        count = 0
        try:
            for frame in _chain_first(first, stream):
                try:
                    stdin.write(memoryview(_pad_to_even(frame)).cast("B"))
                except BrokenPipeError:
                    break  # ffmpeg exited; its return code and message are reported below
                count += 1
            with contextlib.suppress(BrokenPipeError):  # ffmpeg may have exited already
                stdin.close()
            returncode = proc.wait()
        except BaseException:  # bad frame, caller's iterator failed, interrupt: stop ffmpeg
            proc.kill()
            proc.wait()
            with contextlib.suppress(OSError):
                stdin.close()
            raise
        if returncode != 0:
            raise VideoCodecError(
                f"ffmpeg failed (exit code {returncode}) writing {path} after {count} frames:\n"
                f"{_stderr_tail(errors)}"
            )
    logger.debug("wrote %d frames %dx%d at %s fps to %s", count, out_w, out_h, rate, path)
    return path


def _chain_first(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _existing_video(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise VideoNotFoundError(f"video file {str(path)!r} does not exist")
    return path


_STREAM_LINE = re.compile(r"Stream #\S+.*?: Video: (?P<codec>\w+)(?P<rest>.*)")
_SIZE = re.compile(r", (?P<w>\d+)x(?P<h>\d+)")
_FPS = re.compile(r", (?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)")


def _probe(path: Path) -> dict[str, Any]:
    """Codec, stored size and frame rate of the first video stream, from ``ffmpeg -i``."""
    cmd = [_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    text = result.stderr.decode("utf-8", errors="replace")  # ffmpeg -i prints to stderr
    line = _STREAM_LINE.search(text)
    size = _SIZE.search(line.group("rest")) if line else None
    if line is None or size is None:
        raise VideoError(f"{str(path)!r} is not a readable video: {text.strip()[-_STDERR_TAIL:]}")
    fps = _FPS.search(line.group("rest"))
    rate = 0.0 if fps is None else float(fps.group("fps")) * (1000 if fps.group("k") else 1)
    return {
        "codec": line.group("codec"),
        "width": int(size.group("w")),
        "height": int(size.group("h")),
        "fps": rate,
    }


def _read_ppm(stream: Any) -> np.ndarray | None:
    """One binary PPM image (ffmpeg's ``P6\\n<w> <h>\\n255\\n`` + RGB bytes), None at the end."""
    magic = stream.readline()
    if not magic:
        return None
    dims = stream.readline().split()
    maxval = stream.readline().strip()
    if magic.strip() != b"P6" or len(dims) != 2 or maxval != b"255":
        raise VideoCodecError("unexpected frame header in ffmpeg's PPM output")
    width, height = int(dims[0]), int(dims[1])
    data = stream.read(width * height * 3)
    if len(data) != width * height * 3:
        raise VideoCodecError("ffmpeg's output ended inside a frame")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def read_video(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Decode the first video stream to RGB frames, (T, H, W, 3) uint8.

    Args:
        path: a video file ffmpeg can read.
        max_frames: decode only the first ``max_frames`` frames (default all).

    Raises:
        VideoNotFoundError: no such file.
        VideoError: not a video, or no frames.
    """
    path = _existing_video(path)
    if max_frames is not None and max_frames < 1:
        raise VideoError(f"max_frames must be >= 1 or None, got {max_frames}")
    # PPM frames carry their own size, which stays right for rotated or anamorphic videos
    cmd = [_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path)]
    cmd += ["-map", "0:v:0", "-an", "-sn"]
    if max_frames is not None:
        cmd += ["-frames:v", str(int(max_frames))]
    cmd += ["-f", "image2pipe", "-c:v", "ppm", "pipe:1"]
    frames: list[np.ndarray] = []
    with tempfile.TemporaryFile() as errors:
        with subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        ) as proc:
            try:
                while (frame := _read_ppm(proc.stdout)) is not None:
                    frames.append(frame)
            except BaseException:
                proc.kill()
                raise
        if not frames:
            raise VideoError(
                f"{str(path)!r} is not a readable video or holds no video frames: "
                f"{_stderr_tail(errors)}"
            )
        if proc.returncode != 0:
            raise VideoCodecError(
                f"ffmpeg failed (exit code {proc.returncode}) decoding {path} after "
                f"{len(frames)} frames:\n{_stderr_tail(errors)}"
            )
    return np.stack(frames)


def video_info(path: str | Path) -> dict[str, Any]:
    """Basic facts of a video file's first video stream.

    Returns:
        dict with ``frames`` (int, counted by decoding), ``width``, ``height`` [px] as stored,
        ``fps`` (float as ffmpeg reports it, e.g. 29.97; 0.0 if unknown), ``duration`` [s] and
        ``codec`` (e.g. "h264").
    """
    path = _existing_video(path)
    info = _probe(path)
    import imageio_ffmpeg

    try:
        frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError) as err:
        raise VideoError(f"could not count the frames of {str(path)!r}: {err}") from err
    return {
        "frames": int(frames),
        "width": info["width"],
        "height": info["height"],
        "fps": info["fps"],
        "duration": float(seconds),
        "codec": info["codec"],
    }


# ----------------------------------------------------------------------------------- PNG
def _png_image(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(image)


def save_png(image: np.ndarray, path: str | Path, compress_level: int = 6) -> Path:
    """Write one uint8 image, (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, atomically."""
    arr = _check_frame(image, 0, channels=(1, 3, 4))
    path = Path(path)
    with atomic_path(path) as tmp:
        _png_image(arr).save(tmp, format="PNG", compress_level=compress_level)
    return path


def write_png_sequence(
    frames: np.ndarray | Iterable[np.ndarray],
    out_dir: str | Path,
    prefix: str = "frame",
    compress_level: int = 3,
) -> list[Path]:
    """Write frames as ``out_dir/{prefix}_{i:05d}.png`` (ffmpeg pattern ``{prefix}_%05d.png``).

    Args:
        frames: uint8, an array (T, H, W[, C]) or an iterable of (H, W), (H, W, 3) or
            (H, W, 4) images of one shape.
        out_dir: the directory, replaced as a whole and atomically: it appears complete or not
            at all, and files of an earlier, longer sequence do not survive.
        prefix: file name prefix.
        compress_level: zlib level 0-9 (3 is a good speed/size balance for renders).

    Returns:
        The written paths, in frame order.
    """
    if not prefix or any(c in prefix for c in "/\\\0"):
        raise VideoError(f"prefix must be a non-empty file name part, got {prefix!r}")
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        frames = frames[..., None]  # (T, H, W) grey
    out_dir = Path(out_dir)
    names: list[str] = []
    with atomic_directory(out_dir) as tmp:
        for i, frame in enumerate(_checked_frames(frames, channels=(1, 3, 4))):
            if i >= _MAX_SEQUENCE_FRAMES:
                raise VideoError(f"more than {_MAX_SEQUENCE_FRAMES} frames; write an MP4 instead")
            if frame.ndim == 3 and frame.shape[2] == 1:
                frame = frame[..., 0]
            name = f"{prefix}_{i:05d}.png"
            _png_image(frame).save(tmp / name, format="PNG", compress_level=compress_level)
            names.append(name)
    logger.debug("wrote %d PNG frames to %s", len(names), out_dir)
    return [out_dir / name for name in names]


# ---------------------------------------------------------------------- sheets and panels
@functools.lru_cache(maxsize=16)
def _font(size: int) -> Any:
    """Pillow's default font at ``size`` px (the fixed bitmap font without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _font_size(tile_height: int) -> int:
    return int(np.clip(tile_height // 10, 8, 20))


def _as_frame_list(frames: Any) -> Sequence[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise VideoError(f"frames must have shape (T, H, W, 3), got {frames.shape}")
        return frames
    if isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
        return frames
    return list(_iter_frames(frames))


def contact_sheet(
    frames: np.ndarray | Sequence[np.ndarray],
    columns: int | None = None,
    max_frames: int = 16,
    label: bool | Sequence[str] = True,
    gap: int = 2,
) -> np.ndarray:
    """A grid of evenly sampled frames, for a quick look at a clip.

    Args:
        frames: uint8 RGB, (T, H, W, 3) or a sequence of (H, W, 3) of one size.
        columns: tiles per row; default ``ceil(sqrt(n))`` for n tiles.
        max_frames: at most this many frames, sampled evenly including the first and last.
        label: True writes each tile's frame index in its top-left corner; a sequence of T
            strings (e.g. times) writes those instead; False writes nothing.
        gap: pixels of dark grey between tiles.

    Returns:
        (rows * H + (rows - 1) * gap, columns * W + (columns - 1) * gap, 3) uint8.
    """
    seq = _as_frame_list(frames)
    total = len(seq)
    if total == 0:
        raise VideoError("no frames given: a contact sheet needs at least one frame")
    if max_frames < 1:
        raise VideoError(f"max_frames must be >= 1, got {max_frames}")
    if gap < 0:
        raise VideoError(f"gap must be >= 0 pixels, got {gap}")
    if not isinstance(label, bool) and len(label) != total:
        raise VideoError(f"label has {len(label)} strings but there are {total} frames")
    count = min(total, max_frames)
    indices = np.unique(np.rint(np.linspace(0, total - 1, count)).astype(int))
    tiles = list(_checked_frames((seq[int(i)] for i in indices), what="frames"))
    n = len(tiles)
    cols = math.ceil(math.sqrt(n)) if columns is None else int(columns)
    if cols < 1:
        raise VideoError(f"columns must be >= 1, got {columns}")
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    h, w = tiles[0].shape[:2]
    sheet = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 40, np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile
    if label is False:
        return sheet
    texts = [str(i) if label is True else str(label[i]) for i in indices]
    from PIL import Image, ImageDraw

    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    font = _font(_font_size(h))
    for k, text in enumerate(texts):
        r, c = divmod(k, cols)
        x0, y0 = c * (w + gap) + 2, r * (h + gap) + 2
        _, _, right, bottom = draw.textbbox((x0, y0), text, font=font)
        draw.rectangle((x0 - 1, y0 - 1, min(right + 1, x0 + w - 3), bottom + 1), fill=(0, 0, 0))
        draw.text((x0, y0), text, fill=(255, 255, 255), font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def _label_strip(width: int, height: int, text: str) -> np.ndarray:
    """(height, width, 3) uint8: ``text`` centred in white on black."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (0, 0, 0))
    if text:
        draw = ImageDraw.Draw(image)
        font = _font(max(8, height - 4))
        draw.text((width / 2, height / 2), text, fill=(255, 255, 255), font=font, anchor="mm")
    return np.asarray(image, dtype=np.uint8)


def side_by_side(
    panels: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    label_height: int | None = None,
) -> np.ndarray:
    """Concatenate clips left to right, e.g. RGB | depth | mask | flow.

    Args:
        panels: k uint8 RGB clips, each (T, H, W_i, 3) (or k single frames (H, W_i, 3)), with
            equal T and H; widths may differ.
        labels: k captions drawn in a black strip above the panels, or None for no strip.
        label_height: strip height [px]; default ``clip(H // 12, 12, 24)``.

    Returns:
        (T, H, sum W_i, 3) uint8, or (T, H + label_height, sum W_i, 3) with labels (a single
        frame without the leading T when the panels are single frames).
    """
    if isinstance(panels, np.ndarray) or len(panels) == 0:
        raise VideoError("panels must be a non-empty list of (T, H, W, 3) uint8 arrays")
    arrays = [np.asarray(p) for p in panels]
    ndim = arrays[0].ndim
    for i, arr in enumerate(arrays):
        if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or arr.shape[-1] != 3:
            raise VideoError(
                f"panel {i} is {arr.dtype} {arr.shape}; panels must be uint8 RGB (T, H, W, 3) "
                "or (H, W, 3): colour depth / mask / flow with video_bridge.colorize first"
            )
        if arr.ndim != ndim or arr.shape[:-2] != arrays[0].shape[:-2]:
            lead = "(T, H)" if ndim == 4 else "H"
            raise VideoError(
                f"panel {i} has shape {arr.shape} but panel 0 has {arrays[0].shape}; all panels "
                f"need the same {lead}"
            )
    out = np.concatenate(arrays, axis=-2)
    if labels is None:
        return out
    if isinstance(labels, str) or len(labels) != len(arrays):
        raise VideoError(f"labels must be a list of {len(arrays)} strings (one per panel)")
    height = arrays[0].shape[-3]
    strip_h = int(np.clip(height // 12, 12, 24)) if label_height is None else int(label_height)
    if strip_h < 1:
        raise VideoError(f"label_height must be >= 1 pixel, got {label_height}")
    strip = np.concatenate(
        [_label_strip(a.shape[-2], strip_h, str(t)) for a, t in zip(arrays, labels, strict=True)],
        axis=1,
    )
    if ndim == 4:
        strip = np.broadcast_to(strip, (out.shape[0], *strip.shape))
    return np.ascontiguousarray(np.concatenate([strip, out], axis=-3))
