"""Headless OpenGL context (moderngl on EGL), created once per process.

On a machine without a GPU, Mesa's llvmpipe renders on the CPU through EGL; the Debian
packages below provide it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from video_bridge.errors import RenderBackendError

logger = logging.getLogger("emu4d.video_bridge")

DEBIAN_PACKAGES = ("libegl1", "libegl-mesa0", "libgl1-mesa-dri", "libgbm1")
_CONTEXT: Any = None


def get_context() -> Any:
    """The shared moderngl context (EGL, headless); created on first use.

    Raises:
        RenderBackendError: no usable OpenGL 3.3 driver; the message names the packages.
    """
    global _CONTEXT
    if _CONTEXT is not None:
        return _CONTEXT
    try:
        import moderngl
    except ImportError as exc:  # pragma: no cover - a dependency of emu4d
        raise RenderBackendError(
            'moderngl is not installed: pip install "moderngl>=5.8" (a dependency of emu4d).'
        ) from exc
    errors = []
    backends = ["egl", None] if os.environ.get("DISPLAY") else ["egl"]
    for backend in backends:
        try:
            kwargs = {"standalone": True, "require": 330}
            if backend:
                kwargs["backend"] = backend
            _CONTEXT = moderngl.create_context(**kwargs)
            logger.info("OpenGL renderer: %s", _CONTEXT.info.get("GL_RENDERER"))
            return _CONTEXT
        except Exception as exc:  # moderngl raises plain Exceptions for driver problems
            errors.append(f"{backend or 'default'}: {exc}")
    raise RenderBackendError(
        "no headless OpenGL 3.3 context could be created ("
        + "; ".join(errors)
        + "). On Debian/Ubuntu install Mesa's EGL driver: "
        f"apt-get install -y {' '.join(DEBIAN_PACKAGES)}"
    )
