"""Write a :class:`~video_bridge.renderer.RenderResult` to disk: videos, sheets, arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mpm.fileio import atomic_path
from video_bridge.colorize import depth_to_rgb, flow_to_rgb, mask_to_rgb, normals_to_rgb
from video_bridge.renderer import RenderResult
from video_bridge.video_io import (
    contact_sheet,
    save_png,
    side_by_side,
    write_mp4,
    write_png_sequence,
)


def pass_images(result: RenderResult) -> dict[str, np.ndarray]:
    """Every rendered pass as (T, H, W, 3) uint8 images, in the order rgb, depth, mask,
    normals, flow."""
    images: dict[str, np.ndarray] = {}
    if result.rgb is not None:
        images["rgb"] = result.rgb
    if result.depth is not None:
        images["depth"] = depth_to_rgb(result.depth)
    if result.mask is not None:
        images["mask"] = mask_to_rgb(result.mask)
    if result.normals is not None:
        images["normals"] = normals_to_rgb(result.normals)
    if result.flow is not None:
        images["flow"] = flow_to_rgb(result.flow)
    return images


def write_render_outputs(
    result: RenderResult, out_dir: str | Path, fps: float, png: bool = False
) -> list[Path]:
    """Write ``out_dir``/: <pass>.mp4 for each pass, panel.mp4 (all passes side by side),
    contact_sheet.png, render.npz (raw arrays and per-frame camera matrices, OpenCV
    convention) and labels.json; with ``png`` also a PNG sequence per pass. Every file is
    written atomically. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = pass_images(result)
    written = []
    for name, frames in images.items():
        written.append(write_mp4(frames, out / f"{name}.mp4", fps=fps))
        if png:
            written += write_png_sequence(frames, out / f"{name}_png", prefix=name)
    if len(images) > 1:
        panel = side_by_side(list(images.values()), labels=list(images))
        written.append(write_mp4(panel, out / "panel.mp4", fps=fps))
    first = next(iter(images.values()))
    times = [f"t={t:.2f}s" for t in result.times]
    written.append(save_png(contact_sheet(first, label=times), out / "contact_sheet.png"))
    with atomic_path(out / "render.npz") as tmp:
        np.savez_compressed(tmp, **result.arrays())
    written.append(out / "render.npz")
    with atomic_path(out / "labels.json") as tmp:
        tmp.write_text(json.dumps({str(k): v for k, v in result.labels.items()}, indent=2))
    written.append(out / "labels.json")
    return written
