"""The OpenGL context: a clear error naming the Debian packages when no driver is there."""

from __future__ import annotations

import pytest

import video_bridge.gl as gl
from video_bridge.errors import RenderBackendError


def test_missing_driver_names_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    import moderngl

    def no_driver(**kwargs: object) -> None:
        raise Exception("eglInitialize failed (0x3001)")  # what moderngl raises without Mesa

    monkeypatch.setattr(gl, "_CONTEXT", None)
    monkeypatch.setattr(moderngl, "create_context", no_driver)
    with pytest.raises(RenderBackendError) as info:
        gl.get_context()
    message = str(info.value)
    assert "apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1" in message
    assert "eglInitialize failed" in message


def test_context_is_created_once_and_reused() -> None:
    first = gl.get_context()
    assert gl.get_context() is first
    assert first.version_code >= 330
