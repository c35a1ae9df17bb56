"""The human-object-interaction scene file (TOML) and the job behind ``emu4d hoi``.

    [hoi]                      # action, effector, contact_time, approach_speed, duration, fps,
    action = "punch"           # dx, ground, facing, target_height, attraction, friction, seed,
                               # settle_time, domain = [[xmin, ymin, zmin], [xmax, ymax, zmax]]
    contact_time = 0.8

    [object]
    shape = { type = "box", size = [0.25, 0.25, 0.25], center = [0.0, 0.0, 0.126] }
    material = "jelly"

    [export]
    formats = ["npz", "obj"]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from emu4d.pipeline import SCENE_OUTPUT_FILES, RenderOptions, render_trajectory
from emu4d.scene import SHAPES, ExportConfig, check_keys, read_toml, typed_values
from mpm.config import build_dataclass, closest_key_hint
from mpm.errors import ConfigError
from mpm.fileio import atomic_directory, check_output_directory

_TABLES = ("hoi", "object", "export")


def load_hoi_scene(path: str | Path) -> dict[str, Any]:
    """Read and check a HOI scene file; returns the validated tables.

    Raises:
        FileNotFoundError: no such file. ConfigError: unknown keys (closest one named).
    """
    from phygenhoi.hoi import HOIScene

    path = Path(path)
    data = read_toml(path, "example: assets/scenes/punch_jelly.toml")
    for key in data:
        if key not in _TABLES:
            raise ConfigError(
                f"unknown table {key!r} in the HOI scene.{closest_key_hint(key, _TABLES)} "
                f"Valid tables: {list(_TABLES)}."
            )
    hoi = dict(data.get("hoi", {}))
    for reserved in ("shape", "material"):
        if reserved in hoi:
            raise ConfigError(f"[hoi].{reserved} belongs in the [object] table.")
    if "body" in hoi:
        raise ConfigError(
            "[hoi].body cannot be set in a scene file: the shipped procedural body acts. "
            "From Python, pass HOIScene(body=phygenhoi.BodyModel(...))."
        )
    check_keys(HOIScene, hoi, "[hoi]", hidden=("shape", "material", "body"))
    if "action" not in hoi:
        raise ConfigError("[hoi].action is required (punch, kick, push or slap).")
    obj = dict(data.get("object", {}))
    for key in obj:
        if key not in ("shape", "material"):
            raise ConfigError(
                f"unknown key {key!r} in [object].{closest_key_hint(key, ['shape', 'material'])}"
                " Valid keys: ['shape', 'material']."
            )
    if "shape" not in obj or "material" not in obj:
        raise ConfigError("[object] needs a shape and a material.")
    cls, values = typed_values(obj["shape"], SHAPES, "[object].shape")
    check_keys(cls, values, "[object].shape")
    export = build_dataclass(
        ExportConfig,
        {k: tuple(v) if isinstance(v, list) else v for k, v in data.get("export", {}).items()},
        where="[export]",
    )
    return {"hoi": hoi, "object": obj, "export": export, "base_dir": str(path.parent)}


def run_hoi_scene(
    config: dict[str, Any],
    out_dir: str | Path,
    render: RenderOptions | None = None,
    progress: bool = True,
    emulator: Any = None,
) -> dict[str, Any]:
    """Simulate the scene and write trajectory.npz, metrics.json, exports and (with
    ``render``) videos into ``out_dir`` atomically; returns the metrics. With ``emulator`` (a
    trained neurok model) the object is emulated instead (``HOIScene.run``)."""
    import mpm
    from emu4d.scene import build_shape
    from phygenhoi.hoi import HOIScene

    check_output_directory(out_dir, SCENE_OUTPUT_FILES)
    shape = build_shape(config["object"]["shape"], "object", Path(config["base_dir"]))
    material = mpm.materials.from_dict(config["object"]["material"])
    scene = HOIScene(shape=shape, material=material, **config["hoi"])
    start = time.perf_counter()
    result = scene.run(progress=progress, emulator=emulator)
    traj = result.trajectory
    traj.metadata["scene"] = {
        "hoi": config["hoi"],
        "object": config["object"],
        "export": {"formats": list(config["export"].formats)},
    }
    metrics = dict(result.metrics)
    with atomic_directory(out_dir) as tmp:
        traj.save(tmp / "trajectory.npz")
        meshes = [n for n, t in traj.tracks.items() if t.kind == "mesh"]
        for fmt in config["export"].formats:
            if fmt == "npz":
                continue
            if fmt in ("obj", "ply"):
                traj.export(fmt, tmp / fmt, tracks=meshes, progress=progress)
            elif fmt == "glb":
                traj.export(fmt, tmp / "trajectory.glb", tracks=meshes, progress=progress)
            else:
                target = tmp / ("trajectory.usdc" if fmt == "usd" else fmt)
                traj.export(fmt, target, progress=progress)
        if render is not None:
            render_trajectory(traj, tmp / "render", render, progress=progress)
        metrics["total_wall_time_s"] = round(time.perf_counter() - start, 2)
        (tmp / "metrics.json").write_text(json.dumps(_jsonable(metrics), indent=2) + "\n")
    return metrics


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
