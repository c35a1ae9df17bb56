"""The scene-file schema (TOML): typed, strict, with errors that name the bad key.

A scene file has the tables ``[simulator]`` (mpm.Simulator arguments), ``[run]`` (duration, fps),
``[[objects]]`` (name, shape, material, velocity, angular_velocity), ``[[colliders]]``,
``[[forces]]``, ``[[impulses]]`` and ``[export]``. See ``assets/scenes/*.toml``.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mpm
from mpm import colliders as col
from mpm.config import build_dataclass, check_types, closest_key_hint, require_positive
from mpm.errors import ConfigError, MeshFileError

SHAPES: dict[str, type] = {
    "box": mpm.Box,
    "sphere": mpm.Sphere,
    "cylinder": mpm.Cylinder,
    "torus": mpm.Torus,
    "mesh": mpm.MeshShape,
}
COLLIDERS: dict[str, type] = {
    "half_space": col.HalfSpace,
    "sphere": col.Sphere,
    "box": col.Box,
    "capsule": col.Capsule,
}
EXPORT_FORMATS = ("npz", "ply", "obj", "glb", "gaussians", "usd")


@dataclass(frozen=True)
class RunConfig:
    """How long to simulate [s] and how many frames per second to record."""

    duration: float = 1.0
    fps: float = 30.0

    def __post_init__(self) -> None:
        require_positive("[run].duration", self.duration, "s")
        require_positive("[run].fps", self.fps, "frames/s")


@dataclass(frozen=True)
class ExportConfig:
    """Which files ``emu4d sim`` writes besides trajectory.npz and metrics.json."""

    formats: tuple[str, ...] = ("npz", "obj")

    def __post_init__(self) -> None:
        for fmt in self.formats:
            if fmt not in EXPORT_FORMATS:
                raise ConfigError(
                    f"unknown export format {fmt!r} in [export].formats."
                    f"{closest_key_hint(fmt, EXPORT_FORMATS)} Valid: {list(EXPORT_FORMATS)}."
                )


@dataclass(frozen=True)
class ObjectConfig:
    """One ``[[objects]]`` entry."""

    name: str
    shape: dict[str, Any]
    material: Any
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angular_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ImpulseConfig:
    """One ``[[impulses]]`` entry: impulse [N s] on an object at a time [s]."""

    object: str
    impulse: tuple[float, float, float]
    time: float


@dataclass(frozen=True)
class ForceConfig:
    """One ``[[forces]]`` entry: total force [N] on an object during [start, end) [s]."""

    object: str
    force: tuple[float, float, float]
    start: float
    end: float


@dataclass(frozen=True)
class Scene:
    """A parsed scene: everything needed to rebuild the simulation."""

    simulator: dict[str, Any]
    run: RunConfig
    objects: tuple[ObjectConfig, ...]
    colliders: tuple[dict[str, Any], ...] = ()
    forces: tuple[ForceConfig, ...] = ()
    impulses: tuple[ImpulseConfig, ...] = ()
    export: ExportConfig = field(default_factory=ExportConfig)
    base_dir: str = "."

    def to_dict(self) -> dict[str, Any]:
        """The scene as plain data (stored in trajectory metadata for reproduction)."""
        out = dataclasses.asdict(self)
        out.pop("base_dir")
        return out

    def build(self) -> tuple[mpm.Simulator, RunConfig]:
        """Create the simulator with all objects, colliders and loads."""
        sim = _build_dataclass_call(mpm.Simulator, self.simulator, "[simulator]")
        for obj in self.objects:
            shape = build_shape(obj.shape, obj.name, Path(self.base_dir))
            material = mpm.materials.from_dict(obj.material)
            sim.add_object(obj.name, shape, material, obj.velocity, obj.angular_velocity)
        for i, spec in enumerate(self.colliders):
            sim.add_collider(build_collider(spec, i))
        for f in self.forces:
            sim.add_force(f.object, f.force, f.start, f.end)
        for imp in self.impulses:
            sim.add_impulse(imp.object, imp.impulse, imp.time)
        return sim, self.run


def check_keys(
    fn: Any, values: Mapping[str, Any], where: str, hidden: tuple[str, ...] = ()
) -> None:
    """Reject keys that are not parameters of ``fn`` (a class or function), naming the closest,
    and values that do not fit the parameter's type (:func:`mpm.config.check_types`).
    ``hidden`` parameters are not settable here and not offered."""
    skip = ("self", "_frames", *hidden)
    names = [p for p in inspect.signature(fn).parameters if p not in skip]
    for key in values:
        if key not in names:
            raise ConfigError(
                f"unknown key {key!r} in {where}.{closest_key_hint(key, names)} "
                f"Valid keys: {names}."
            )
    check_types(fn, values, where)


def _build_dataclass_call(fn: Any, values: Mapping[str, Any], where: str) -> Any:
    """Call ``fn(**values)`` after rejecting keys that are not its parameters."""
    check_keys(fn, values, where)
    return fn(**values)


def _validate_references(scene: Scene) -> None:
    """Check every nested key and type when the file is read, not only when it is built."""
    check_keys(mpm.Simulator, scene.simulator, "[simulator]")
    for obj in scene.objects:
        cls, values = typed_values(obj.shape, SHAPES, f"shape of object {obj.name!r}")
        check_keys(cls, values, f"shape of object {obj.name!r}")
        mpm.materials.from_dict(obj.material)
    for i, spec in enumerate(scene.colliders):
        values = dict(spec)
        if values.get("type") == "ground":
            values.pop("type")
            check_keys(col.Ground, values, f"colliders[{i}] (ground)")
        else:
            table = {**COLLIDERS, "ground": col.HalfSpace}
            cls, values = typed_values(values, table, f"colliders[{i}]")
            check_keys(cls, values, f"colliders[{i}]")


def typed_values(spec: Mapping[str, Any], table: dict[str, type], where: str) -> tuple[type, dict]:
    values = dict(spec)
    kind = values.pop("type", None)
    if kind not in table:
        raise ConfigError(
            f"{where}: type must be one of {sorted(table)}, got {kind!r}."
            f"{closest_key_hint(str(kind), list(table))}"
        )
    return table[kind], values


def build_shape(spec: Mapping[str, Any], name: str, base_dir: Path) -> mpm.Shape:
    cls, values = typed_values(spec, SHAPES, f"shape of object {name!r}")
    if cls is mpm.MeshShape and "path" in values:
        candidate = base_dir / str(values["path"])
        if candidate.exists():
            values["path"] = str(candidate)
        else:
            try:
                return build_dataclass(cls, values, where=f"shape of object {name!r}")
            except MeshFileError as error:
                raise MeshFileError(
                    f"{error} Relative paths are also looked for next to the scene file, "
                    f"{candidate.absolute()}."
                ) from None
    return build_dataclass(cls, values, where=f"shape of object {name!r}")


def build_collider(spec: Mapping[str, Any], index: int) -> col.Collider:
    """The mpm collider of the scene's ``colliders[index]`` entry (a "ground" is a HalfSpace)."""
    values = dict(spec)
    if values.get("type") == "ground":
        values.pop("type")
        return _build_dataclass_call(col.Ground, values, f"colliders[{index}] (ground)")
    cls, values = typed_values(values, COLLIDERS, f"colliders[{index}]")
    return build_dataclass(cls, values, where=f"colliders[{index}]")


_TOP_LEVEL = ("simulator", "run", "objects", "colliders", "forces", "impulses", "export")


def parse_scene(data: Mapping[str, Any], base_dir: str | Path = ".") -> Scene:
    """Validate a scene mapping (as read from TOML) into a :class:`Scene`.

    Raises:
        ConfigError: unknown keys (named with the closest valid one), missing sections or
            invalid values.
    """
    data = copy.deepcopy(dict(data))
    for key in data:
        if key not in _TOP_LEVEL:
            raise ConfigError(
                f"unknown table {key!r} in the scene.{closest_key_hint(key, _TOP_LEVEL)} "
                f"Valid tables: {list(_TOP_LEVEL)}."
            )
    if not data.get("objects"):
        raise ConfigError("the scene has no [[objects]]; add at least one object.")
    for name in ("simulator", "run", "export"):
        if not isinstance(data.get(name, {}), Mapping):
            raise ConfigError(f"{name} must be a table: write [{name}] above its keys.")
    objects = tuple(
        build_dataclass(ObjectConfig, o, where=f"objects[{i}]")
        for i, o in enumerate(_array_of_tables(data, "objects"))
    )
    for obj in objects:
        _check_object(obj)
    scene = Scene(
        simulator=dict(data.get("simulator", {})),
        run=build_dataclass(RunConfig, data.get("run", {}), where="[run]"),
        objects=objects,
        colliders=tuple(dict(c) for c in _array_of_tables(data, "colliders")),
        forces=tuple(
            build_dataclass(ForceConfig, f, where=f"forces[{i}]")
            for i, f in enumerate(_array_of_tables(data, "forces"))
        ),
        impulses=tuple(
            build_dataclass(ImpulseConfig, f, where=f"impulses[{i}]")
            for i, f in enumerate(_array_of_tables(data, "impulses"))
        ),
        export=build_dataclass(
            ExportConfig,
            {k: tuple(v) if isinstance(v, list) else v for k, v in data.get("export", {}).items()},
            where="[export]",
        ),
        base_dir=str(base_dir),
    )
    _validate_references(scene)
    return scene


def _array_of_tables(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """``data[name]`` as a list of tables; a single ``[name]`` table is refused, not iterated."""
    entries = data.get(name, [])
    if isinstance(entries, Mapping) or not isinstance(entries, list):
        raise ConfigError(
            f"{name} must be a list of tables: write [[{name}]] (two brackets) above each entry."
        )
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{name}[{i}] must be a table of keys and values, got {entry!r}.")
    return entries


def _check_object(obj: ObjectConfig) -> None:
    """Refuse an object whose material is neither a preset name nor a table."""
    if not isinstance(obj.material, (str, Mapping)):
        raise ConfigError(
            f"object {obj.name!r}: material must be a preset name (\"jelly\") or a table such "
            f'as {{ type = "Elastic", E = 5e4, nu = 0.3, density = 1000 }}, got {obj.material!r}.'
        )


def load_scene(path: str | Path) -> Scene:
    """Read and validate a TOML scene file.

    Raises:
        FileNotFoundError: the file does not exist. ConfigError: invalid TOML or schema.
    """
    path = Path(path)
    return parse_scene(read_toml(path, "example scenes are in assets/scenes/"), path.parent)


def read_toml(path: str | Path, hint: str) -> dict[str, Any]:
    """The parsed TOML file at ``path``.

    Raises:
        FileNotFoundError: naming the resolved path and ``hint``. ConfigError: invalid TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"scene file {str(path)!r} not found (resolved to {path.resolve()}); {hint}."
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not a text file; a scene is a TOML text file ({hint})."
        ) from None
