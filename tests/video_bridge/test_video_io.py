"""Tests of video_bridge.video_io: MP4 round trip, even-size padding, errors, atomic writes,
PNG sequences, contact sheets and side-by-side panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mpm.errors import MPMError
from video_bridge import video_io
from video_bridge.errors import VideoCodecError, VideoError, VideoNotFoundError
from video_bridge.video_io import (
    contact_sheet,
    read_video,
    save_png,
    side_by_side,
    video_info,
    write_mp4,
    write_png_sequence,
)

T, W, H = 12, 64, 48
BACKGROUND = (40, 80, 120)
SQUARE = (230, 200, 30)

# H.264 is lossy: with the default quality (crf 15) the mean absolute error of this clip is
# about 2 grey levels (chroma subsampling smears the square's edges); 6 leaves a margin.
MAX_MEAN_ABS_ERROR = 6.0


def moving_square(width: int = W, height: int = H, frames: int = T) -> np.ndarray:
    """(frames, height, width, 3) uint8: a 16 px yellow square moving 3 px/frame to the right."""
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    clip[:] = BACKGROUND
    for t in range(frames):
        x = 4 + 3 * t
        clip[t, 10:26, x : x + 16] = SQUARE
    return clip


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_mp4_round_trip(tmp_path: Path) -> None:
    clip = moving_square()
    path = write_mp4(clip, tmp_path / "clip.mp4", fps=24)
    assert path == tmp_path / "clip.mp4" and path.stat().st_size > 0
    back = read_video(path)
    assert back.shape == clip.shape and back.dtype == np.uint8
    assert mean_abs_error(back, clip) < MAX_MEAN_ABS_ERROR
    # the square moves in the decoded video too: its centroid advances 3 px per frame
    yellow = (back[..., 0] > 180) & (back[..., 2] < 100)
    xs = [np.nonzero(f)[1].mean() for f in yellow]
    np.testing.assert_allclose(np.diff(xs), 3.0, atol=0.5)
    info = video_info(path)
    assert info["frames"] == T
    assert (info["width"], info["height"]) == (W, H)
    assert info["fps"] == pytest.approx(24.0)
    assert info["codec"] == "h264"
    assert info["duration"] == pytest.approx(T / 24, abs=0.05)
    assert read_video(path, max_frames=5).shape == (5, H, W, 3)


def test_mp4_from_iterable_of_frames(tmp_path: Path) -> None:
    clip = moving_square(frames=5)
    path = write_mp4((frame for frame in clip), tmp_path / "gen.mp4", fps=30)
    info = video_info(path)
    assert info["frames"] == 5 and info["fps"] == pytest.approx(30.0)


def test_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    """Documented: H.264 yuv420p needs even sizes; the last row/column is replicated."""
    clip = moving_square(63, 47)
    back = read_video(write_mp4(clip, tmp_path / "odd.mp4"))
    assert back.shape == (T, 48, 64, 3)
    assert mean_abs_error(back[:, :47, :63], clip) < MAX_MEAN_ABS_ERROR
    # the padding copies the edge, so it is background colour, not black
    assert mean_abs_error(back[:, 47, :63], clip[:, 46]) < MAX_MEAN_ABS_ERROR


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        (np.zeros((0, H, W, 3), np.uint8), "no frames"),
        ([], "no frames"),
        (np.zeros((2, H, W, 3), np.float32), "uint8"),
        (np.zeros((H, W, 3), np.uint8), "single"),
        (np.zeros((2, H, W, 4), np.uint8), "shape"),
        ([np.zeros((H, W, 3), np.uint8), np.zeros((H, W + 2, 3), np.uint8)], "same size"),
        (42, "iterable"),
    ],
)
def test_bad_frames_raise_video_error(tmp_path: Path, frames: object, match: str) -> None:
    with pytest.raises(VideoError, match=match):
        write_mp4(frames, tmp_path / "bad.mp4")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even a temporary file


def test_bad_settings_raise(tmp_path: Path) -> None:
    clip = moving_square(frames=2)
    with pytest.raises(VideoError, match="fps"):
        write_mp4(clip, tmp_path / "a.mp4", fps=0)
    with pytest.raises(VideoError, match="quality"):
        write_mp4(clip, tmp_path / "a.mp4", quality=11)
    with pytest.raises(VideoError, match=r"\.mp4"):
        write_mp4(clip, tmp_path / "a.gif")
    with pytest.raises(VideoError, match="swapped"):  # was a bare TypeError
        write_mp4(tmp_path / "a.mp4", clip)
    with pytest.raises(VideoCodecError, match="ffmpeg failed") as info:
        write_mp4(clip, tmp_path / "a.mp4", preset="no-such-preset")
    assert isinstance(info.value, MPMError) and isinstance(info.value, RuntimeError)
    assert list(tmp_path.iterdir()) == []


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFoundError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video")
    with pytest.raises(VideoError, match="not a readable video"):
        read_video(junk)


def test_failure_mid_write_keeps_existing_file(tmp_path: Path) -> None:
    path = write_mp4(moving_square(frames=3), tmp_path / "keep.mp4")
    before = path.read_bytes()

    def failing_frames():
        clip = moving_square()
        yield from clip[:4]
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_mp4(failing_frames(), path)
    # a bad frame discovered mid-stream is just as harmless
    frames = [*moving_square(frames=4), np.zeros((H, W), np.uint8)]
    with pytest.raises(VideoError, match="frame 4"):
        write_mp4(frames, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_encoder_failure_keeps_existing_file(tmp_path: Path, monkeypatch) -> None:
    path = write_mp4(moving_square(frames=3), tmp_path / "keep.mp4")
    before = path.read_bytes()
    calls = {"n": 0}
    real_pad = video_io._pad_to_even

    def pad_then_fail(frame: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 6:
            raise OSError("disk full")
        return real_pad(frame)

    monkeypatch.setattr(video_io, "_pad_to_even", pad_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_mp4(moving_square(), path)
    assert calls["n"] == 6
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_png_sequence(tmp_path: Path) -> None:
    clip = moving_square(frames=4)
    out = tmp_path / "frames"
    paths = write_png_sequence(clip, out, prefix="rgb")
    assert [p.name for p in paths] == [f"rgb_{i:05d}.png" for i in range(4)]
    assert sorted(out.iterdir()) == paths
    with Image.open(paths[2]) as image:
        np.testing.assert_array_equal(np.asarray(image), clip[2])  # lossless
    # rewriting replaces the directory as a whole: no stale frames of the longer sequence
    write_png_sequence(clip[:2], out, prefix="rgb")
    assert sorted(p.name for p in out.iterdir()) == ["rgb_00000.png", "rgb_00001.png"]
    grey = write_png_sequence(np.zeros((3, 8, 10), np.uint8), tmp_path / "grey")
    with Image.open(grey[0]) as image:
        assert image.mode == "L" and len(grey) == 3
    with pytest.raises(VideoError, match="no frames"):
        write_png_sequence([], tmp_path / "empty")
    assert not (tmp_path / "empty").exists()


def test_save_png(tmp_path: Path) -> None:
    image = moving_square(frames=1)[0]
    path = save_png(image, tmp_path / "sub" / "image.png")
    with Image.open(path) as decoded:
        np.testing.assert_array_equal(np.asarray(decoded), image)
    with pytest.raises(VideoError, match="uint8"):
        save_png(image.astype(np.float64), tmp_path / "f.png")


def test_contact_sheet_shape_and_sampling() -> None:
    clip = moving_square(frames=20)
    sheet = contact_sheet(clip, max_frames=6, gap=2)  # 6 tiles -> 3 columns x 2 rows
    assert sheet.shape == (2 * H + 2, 3 * W + 2 * 2, 3) and sheet.dtype == np.uint8
    assert sheet.shape == contact_sheet(clip, max_frames=6, label=False).shape
    plain = contact_sheet(clip, columns=4, max_frames=4, label=False, gap=0)
    assert plain.shape == (H, 4 * W, 3)
    # evenly sampled, first and last included: frames 0, 6, 13, 19
    for k, t in enumerate([0, 6, 13, 19]):
        np.testing.assert_array_equal(plain[:, k * W : (k + 1) * W], clip[t])
    labelled = contact_sheet(clip, columns=4, max_frames=4, gap=0)
    assert not np.array_equal(labelled[:12, :24], plain[:12, :24])  # the label was drawn
    np.testing.assert_array_equal(labelled[H // 2 :], plain[H // 2 :])  # only in the corner
    assert contact_sheet(list(clip[:1])).shape == (H, W, 3)
    with pytest.raises(VideoError, match="at least one frame"):
        contact_sheet(np.zeros((0, H, W, 3), np.uint8))


def test_side_by_side() -> None:
    a = moving_square(frames=3)
    b = np.zeros((3, H, 20, 3), np.uint8)
    panel = side_by_side([a, b])
    assert panel.shape == (3, H, W + 20, 3)
    np.testing.assert_array_equal(panel[:, :, :W], a)
    labelled = side_by_side([a, b], labels=["rgb", "depth"], label_height=14)
    assert labelled.shape == (3, H + 14, W + 20, 3)
    np.testing.assert_array_equal(labelled[:, 14:], panel)
    assert labelled[:, :14].max() > 200  # white (antialiased) text on the black strip
    assert side_by_side([a[0], b[0]]).shape == (H, W + 20, 3)
    with pytest.raises(VideoError, match="same"):
        side_by_side([a, b[:2]])
    with pytest.raises(VideoError, match="uint8"):
        side_by_side([a, b.astype(np.float32)])
    with pytest.raises(VideoError, match="2 strings"):
        side_by_side([a, b], labels=["only one"])
