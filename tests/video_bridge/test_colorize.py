"""Tests of video_bridge.colorize: documented colours of depth, masks, normals and flow."""

from __future__ import annotations

import numpy as np
import pytest

from video_bridge.colorize import (
    GROUND_ID,
    colour_wheel,
    depth_to_rgb,
    flow_to_rgb,
    mask_palette,
    mask_to_rgb,
    normals_to_rgb,
)
from video_bridge.errors import VideoError


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def test_depth_background_black_and_nearer_brighter() -> None:
    depth = np.tile(np.linspace(0.5, 5.0, 32, dtype=np.float32), (4, 1))
    depth[:, :3] = [0.0, -1.0, np.nan]
    depth[0, 3] = np.inf
    rgb = depth_to_rgb(depth)
    assert rgb.shape == (4, 32, 3) and rgb.dtype == np.uint8
    assert (rgb[:, :3] == 0).all() and (rgb[0, 3] == 0).all()
    valid = rgb[1, 3:]
    assert (valid.max(axis=-1) > 0).all()  # valid depth never collides with background
    assert (np.diff(luminance(valid)) <= 0).all()  # monotonic: farther is never brighter
    assert luminance(valid[0]) > luminance(valid[-1]) + 100


def test_depth_range_and_batches() -> None:
    depth = np.array([[1.0, 2.0, 3.0]], np.float32)
    fixed = depth_to_rgb(depth, near=1.0, far=3.0)
    np.testing.assert_array_equal(fixed, depth_to_rgb(depth))
    clipped = depth_to_rgb(np.array([[0.5, 9.0]], np.float32), near=1.0, far=3.0)
    np.testing.assert_array_equal(clipped[0], fixed[0, [0, 2]])  # outside: end colours
    # a clip shares one range: the same depth has the same colour in every frame
    clip = np.stack([depth, depth + 1.0])
    out = depth_to_rgb(clip)
    assert out.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(out[0, 0, 1], out[1, 0, 0])  # both at 2 m
    flat = depth_to_rgb(np.full((2, 2), 1.5, np.float32))
    assert (flat.max(axis=-1) > 0).all()
    assert not depth_to_rgb(np.zeros((2, 2), np.float32)).any()
    with pytest.raises(VideoError, match="far must be greater"):
        depth_to_rgb(depth, near=2.0, far=1.0)
    with pytest.raises(VideoError, match="colormap"):
        depth_to_rgb(depth, cmap="no-such-map")


def test_mask_colours() -> None:
    ids = np.arange(32).reshape(1, 32)
    rgb = mask_to_rgb(ids)
    assert rgb.shape == (1, 32, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 0).all()
    assert tuple(rgb[0, GROUND_ID]) == (128, 128, 128)
    colours = rgb[0].astype(np.float64)
    distance = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    assert distance.min() > 40  # clearly distinct, also from black and ground grey
    # deterministic: id 5 has the same colour whatever else is in the mask
    assert tuple(mask_to_rgb(np.array([[5]]))[0, 0]) == tuple(rgb[0, 5])
    np.testing.assert_array_equal(mask_palette(32), rgb[0])
    batch = mask_to_rgb(np.stack([ids, ids]).astype(np.uint16))
    assert batch.shape == (2, 1, 32, 3)
    palette = np.array([[0, 0, 0], [1, 2, 3], [4, 5, 6]], np.uint8)
    assert tuple(mask_to_rgb(np.array([[2]]), palette)[0, 0]) == (4, 5, 6)
    with pytest.raises(VideoError, match="palette has only 3"):
        mask_to_rgb(np.array([[3]]), palette)
    with pytest.raises(VideoError, match=">= 0"):
        mask_to_rgb(np.array([[-1]]))
    with pytest.raises(VideoError, match="integer"):
        mask_to_rgb(np.array([[1.0]]))


def test_normals_mapping() -> None:
    normals = np.array([[[1, 0, 0], [0, 0, 1], [0, -1, 0], [0, 0, 0], [np.nan, 0, 0]]], np.float32)
    rgb = normals_to_rgb(normals)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (255, 128, 128)
    assert tuple(rgb[0, 1]) == (128, 128, 255)
    assert tuple(rgb[0, 2]) == (128, 0, 128)
    assert not rgb[0, 3:].any()  # zero and NaN normals are background
    assert normals_to_rgb(np.stack([normals] * 3)).shape == (3, 1, 5, 3)
    with pytest.raises(VideoError, match=r"\(H, W, 3\)"):
        normals_to_rgb(np.zeros((4, 4, 2)))


@pytest.mark.parametrize(
    ("flow", "colour"),
    [
        ((5.0, 0.0), (255, 0, 0)),  # +x (right): red
        ((0.0, 5.0), (128, 255, 0)),  # +y (down): chartreuse
        ((-5.0, 0.0), (0, 255, 255)),  # -x (left): cyan
        ((0.0, -5.0), (128, 0, 255)),  # -y (up): violet
        ((0.0, 0.0), (255, 255, 255)),  # no motion: white
    ],
)
def test_flow_hue_directions(flow: tuple[float, float], colour: tuple[int, int, int]) -> None:
    image = np.zeros((2, 2, 2), np.float32)
    image[:] = flow
    rgb = flow_to_rgb(image, max_magnitude=5.0)
    assert rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == colour


def test_flow_magnitude_scaling() -> None:
    flow = np.zeros((1, 4, 2), np.float32)
    flow[0, :, 0] = [0.0, 1.0, 2.0, 4.0]
    flow[0, 0] = np.nan
    rgb = flow_to_rgb(flow, max_magnitude=2.0).astype(int)
    assert (rgb[0, 0] == 0).all()  # non-finite flow is black
    assert tuple(rgb[0, 1]) == (255, 128, 128)  # half saturation
    assert tuple(rgb[0, 2]) == (255, 0, 0)  # saturated
    assert tuple(rgb[0, 3]) == (191, 0, 0)  # beyond max_magnitude: darker
    # default scale: the 99th percentile of the moving pixels of the whole clip (static
    # background excluded), shared by every frame
    clip = np.zeros((2, 1, 2000, 2), np.float32)
    clip[0, 0, :100, 0] = 3.0
    clip[1, 0, :100, 0] = 1.5
    out = flow_to_rgb(clip)
    assert tuple(out[0, 0, 0]) == (255, 0, 0) and tuple(out[1, 0, 0]) == (255, 128, 128)
    assert (flow_to_rgb(np.zeros((3, 3, 2))) == 255).all()  # static: white, no division by 0
    with pytest.raises(VideoError, match="max_magnitude"):
        flow_to_rgb(flow, max_magnitude=0.0)


def test_colour_wheel_legend() -> None:
    wheel = colour_wheel(65)
    assert wheel.shape == (65, 65, 3) and wheel.dtype == np.uint8
    assert (wheel[0, 0] == 0).all()  # outside the disc
    assert tuple(wheel[32, 32]) == (255, 255, 255)  # centre: no motion
    right, bottom = wheel[32, 63].astype(int), wheel[63, 32].astype(int)
    assert right[0] > 240 and right[1] < 30 and right[2] < 30  # red, as flow +x
    assert bottom[1] > 240 and bottom[2] < 30  # chartreuse, as flow +y
