"""A scene file run on the learned emulator (neurok) instead of MPM: the same TOML that
``emu4d sim`` simulates, emulated in a fraction of the time, for the scenes the emulator
covers -- one elastic or plasticine object, a level ground, moving spheres, forces and
impulses."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mpm
from emu4d.scene import Scene, build_collider, build_shape
from mpm import colliders as col
from mpm.errors import ConfigError
from neurok.emulator import simulate
from neurok.loads import Load
from neurok.material import EMULATED_MATERIALS
from neurok.model import NeuROK


def emulate_scene(scene: Scene, model: NeuROK, progress: bool = True) -> mpm.Trajectory:
    """Emulate ``scene`` with ``model``: its one object from its initial velocities, its
    ground (a level [[colliders]] "ground"; none: no floor), sphere colliders, forces and
    impulses (on the whole object), for the scene's duration and fps. The colliders' contact
    modes are not modelled: the ground and the spheres act by their Coulomb friction, as
    "slip" or "separate" would (a "sticky" ground holds an MPM body harder).

    Raises:
        ConfigError: what the emulator does not cover, named with its place in the scene
            file: not exactly one object, a material other than elastic or plasticine, a
            tilted, moving or second ground, a collider that is not a sphere.
    """
    if len(scene.objects) != 1:
        names = [obj.name for obj in scene.objects]
        raise ConfigError(
            f"the emulator takes one object, the scene has {len(names)}: {names}; run "
            "scenes with several objects on MPM (emu4d sim)."
        )
    obj = scene.objects[0]
    material = mpm.materials.from_dict(obj.material)
    if not isinstance(material, EMULATED_MATERIALS):
        raise ConfigError(
            f"object {obj.name!r}: the emulator models elastic and plasticine (von Mises) "
            f"objects, not {type(material).__name__}; run it on MPM (emu4d sim)."
        )
    shape = build_shape(obj.shape, obj.name, Path(scene.base_dir))
    ground, friction, spheres = None, 0.4, []
    for index, spec in enumerate(scene.colliders):
        collider = build_collider(spec, index)
        if isinstance(collider, col.Sphere):
            spheres.append(collider)
        elif isinstance(collider, col.HalfSpace) and _is_level_ground(collider):
            if ground is not None:
                raise ConfigError(f"colliders[{index}]: the emulator takes one ground.")
            ground, friction = float(collider.center[2]), float(collider.friction)
        else:
            raise ConfigError(
                f"colliders[{index}]: the emulator takes a level, fixed ground and sphere "
                f"colliders, not this {type(collider).__name__}; run the scene on MPM "
                "(emu4d sim)."
            )
    loads = [Load(force=tuple(f.force), start=f.start, end=f.end) for f in scene.forces]
    loads += [Load(impulse=tuple(i.impulse), start=i.time) for i in scene.impulses]
    traj = simulate(
        model, shape.surface_mesh(), material=material, velocity=obj.velocity,
        angular_velocity=obj.angular_velocity, loads=loads, colliders=spheres,
        duration=scene.run.duration, fps=scene.run.fps, ground=ground, friction=friction,
        progress=progress,
    )  # fmt: skip
    return _named_as_in_scene(traj, obj.name, material)


def _named_as_in_scene(
    traj: mpm.Trajectory, name: str, material: mpm.materials.Material
) -> mpm.Trajectory:
    """The emulated trajectory with the tracks named after the scene's object, as `emu4d sim`
    names them (``<name>`` and ``<name>_surface``), and the object's material recorded, so
    scripts and renders treat the two runs alike."""
    tracks = {
        name: dataclasses.replace(traj.tracks["object"], object_name=name),
        f"{name}_surface": dataclasses.replace(traj.tracks["object_surface"], object_name=name),
    }
    metadata = {**traj.metadata, "objects": [{"name": name, "material": material.to_dict()}]}
    return mpm.Trajectory(traj.times, tracks, traj.diagnostics, metadata)


def _is_level_ground(plane: col.HalfSpace) -> bool:
    """A half-space whose surface is a fixed horizontal plane (normal +z)."""
    return plane.is_static and all(abs(a) < 1e-12 for a in plane.rotation)
