"""video_bridge: render a simulated :class:`mpm.Trajectory` to images, videos and the
conditioning signals (depth, instance masks, normals, optical flow, cameras) of video models.

    import video_bridge as vb
    result = vb.render(traj, "orbit", size=(512, 512))       # RenderResult of arrays
    vb.write_mp4(result.rgb, "out/rgb.mp4", fps=traj.fps)

Cameras follow the OpenCV convention (x right, y down, z forward); the world is Z-up.
The renderer runs headless through EGL (Mesa llvmpipe on a CPU-only machine).
"""

from __future__ import annotations

from video_bridge.camera import Camera, CameraPath
from video_bridge.colorize import (
    colour_wheel,
    depth_to_rgb,
    flow_to_rgb,
    mask_palette,
    mask_to_rgb,
    normals_to_rgb,
)
from video_bridge.errors import (
    CameraError,
    RenderBackendError,
    RenderConfigError,
    RenderError,
    VideoCodecError,
    VideoError,
    VideoNotFoundError,
)
from video_bridge.outputs import pass_images, write_render_outputs
from video_bridge.plots import diagnostics_figure, plot_diagnostics
from video_bridge.renderer import PASSES, Renderer, RenderResult, render
from video_bridge.video_io import (
    contact_sheet,
    read_video,
    save_png,
    side_by_side,
    video_info,
    write_mp4,
    write_png_sequence,
)

__all__ = [
    "PASSES",
    "Camera",
    "CameraError",
    "CameraPath",
    "RenderBackendError",
    "RenderConfigError",
    "RenderError",
    "RenderResult",
    "Renderer",
    "VideoCodecError",
    "VideoError",
    "VideoNotFoundError",
    "colour_wheel",
    "contact_sheet",
    "depth_to_rgb",
    "diagnostics_figure",
    "flow_to_rgb",
    "mask_palette",
    "mask_to_rgb",
    "normals_to_rgb",
    "pass_images",
    "plot_diagnostics",
    "read_video",
    "render",
    "save_png",
    "side_by_side",
    "video_info",
    "write_mp4",
    "write_png_sequence",
    "write_render_outputs",
]
