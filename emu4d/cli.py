"""The ``emu4d`` command line.

    emu4d sim SCENE.toml -o OUT/ [--render]   simulate a scene file, write trajectory.npz + exports
    emu4d render TRAJ.npz -o OUT/             render RGB / depth / mask / flow videos and arrays
    emu4d hoi SCENE.toml -o OUT/ [--emulate]  a human punches / kicks / pushes / slaps an object
    emu4d neurok data|train|simulate|scene ...  learned emulation: dataset, training, emulation
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpm.errors import ConfigError, MPMError

if TYPE_CHECKING:
    from emu4d.pipeline import RenderOptions


def _size(text: str) -> tuple[int, int]:
    """Parse WIDTHxHEIGHT."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 512x512, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return width, height


def _render_options(args: argparse.Namespace) -> RenderOptions:
    from emu4d.pipeline import RenderOptions

    return RenderOptions(
        camera=args.camera,
        size=args.size,
        passes=tuple(p.strip() for p in args.passes.split(",") if p.strip()),
        png=args.png,
        shadows=not args.no_shadows,
    )


def _cmd_sim(args: argparse.Namespace) -> int:
    from emu4d.pipeline import simulate_scene
    from emu4d.scene import load_scene

    scene = load_scene(args.scene)
    options = _render_options(args) if args.render else None
    result = simulate_scene(scene, args.out, progress=not args.quiet, render=options)
    summary = {k: result.metrics[k] for k in ("frames", "particles", "substeps", "wall_time_s")}
    print(f"wrote {len(result.files)} files to {args.out}: {json.dumps(summary)}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from emu4d.pipeline import RENDER_OUTPUT_FILES, render_trajectory
    from mpm.fileio import atomic_directory, check_output_directory
    from mpm.trajectory import Trajectory

    check_output_directory(args.out, RENDER_OUTPUT_FILES)
    traj = Trajectory.load(args.trajectory)
    with atomic_directory(args.out) as tmp:
        files = render_trajectory(traj, tmp, _render_options(args), progress=not args.quiet)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


def _cmd_hoi(args: argparse.Namespace) -> int:
    from emu4d.hoi_scene import load_hoi_scene, run_hoi_scene

    config = load_hoi_scene(args.scene)
    options = None if args.no_render else _render_options(args)
    emulator = None
    if args.emulate:
        from neurok.checkpoint import load

        emulator = load(args.checkpoint)
    metrics = run_hoi_scene(config, args.out, render=options, progress=not args.quiet,
                            emulator=emulator)  # fmt: skip
    keys = ("contact_time_s", "effector_speed_at_contact_m_s", "impulse_effector_cosine")
    summary = {k: round(float(metrics[k]), 3) for k in keys}
    print(f"wrote {args.out}: {json.dumps(summary)}")
    return 0


def _cmd_neurok_data(args: argparse.Namespace) -> int:
    from neurok.data import generate_dataset

    index = generate_dataset(
        args.out, args.n, seed=args.seed, duration=args.duration,
        heldout_fraction=args.heldout, cells_per_size=args.cells_per_size,
        progress=not args.quiet,
    )  # fmt: skip
    print(f"wrote {len(index.specs)} sequences to {args.out} "
          f"({len(index.train)} train, {len(index.heldout)} held-out)")  # fmt: skip
    return 0


def _cmd_neurok_train(args: argparse.Namespace) -> int:
    from neurok.checkpoint import save
    from neurok.model import NeuROKConfig
    from neurok.train import TrainConfig, train

    cfg = TrainConfig(steps=args.steps, batch=args.batch, seed=args.seed,
                      subspace_dim=args.subspace, time_limit=args.time_limit)  # fmt: skip
    model_cfg = NeuROKConfig(latent_dim=args.latent, output=args.output)
    model, info = train(args.data, model_cfg, cfg, progress=not args.quiet)
    info["command"] = (
        f"emu4d neurok train --data {args.data} -o {args.out} --steps {args.steps} "
        f"--batch {args.batch} --latent {args.latent} --subspace {args.subspace} "
        f"--seed {args.seed} --time-limit {args.time_limit} --output {args.output}"
    )
    path = save(model, args.out, info)
    print(f"wrote {path} (state dim {model.state_dim}, {info['train_time_s']} s)")
    return 0


def _cmd_neurok_simulate(args: argparse.Namespace) -> int:
    import trimesh

    from mpm.fileio import atomic_directory, check_output_directory
    from neurok.checkpoint import load
    from neurok.emulator import simulate
    from neurok.errors import MeshError

    if not Path(args.mesh).is_file():
        raise MeshError(f"no mesh file at {args.mesh}; give a closed mesh (OBJ, PLY, STL, ...).")
    check_output_directory(args.out, ("trajectory.npz",))
    model = load(args.checkpoint)
    mesh = trimesh.load(args.mesh, force="mesh")
    mesh.apply_scale(args.scale / max(float(mesh.extents.max()), 1e-12))
    low, high = mesh.bounds
    mesh.apply_translation([-(low[0] + high[0]) / 2, -(low[1] + high[1]) / 2, args.height - low[2]])
    E, nu, density = args.material
    traj = simulate(
        model, mesh, material={"E": E, "nu": nu, "density": density, "viscosity": args.viscosity,
                               "yield_stress": args.yield_stress},
        velocity=args.velocity, angular_velocity=args.spin, duration=args.duration,
        progress=not args.quiet,
    )  # fmt: skip
    with atomic_directory(args.out) as tmp:
        traj.save(tmp / "trajectory.npz")
    wall = traj.metadata["neurok"]["wall_time_s"]
    print(f"wrote {args.out}/trajectory.npz ({traj.num_frames} frames emulated in {wall:.2f} s)")
    return 0


def _cmd_neurok_scene(args: argparse.Namespace) -> int:
    from emu4d.emulation import emulate_scene
    from emu4d.pipeline import export_formats, render_trajectory
    from emu4d.scene import load_scene
    from mpm.fileio import atomic_directory, check_output_directory
    from neurok.checkpoint import load

    scene = load_scene(args.scene)
    options = _render_options(args) if args.render else None
    check_output_directory(args.out, ("trajectory.npz",))
    traj = emulate_scene(scene, load(args.checkpoint), progress=not args.quiet)
    emulated = traj.metadata["neurok"]
    metrics = {
        "emulated": True,
        "frames": traj.num_frames,
        "duration_s": float(traj.times[-1]),
        "wall_time_s": emulated["wall_time_s"],
        "step_s": emulated.get("step_s"),
        "state_dim": emulated.get("state_dim"),
        "export_formats": list(scene.export.formats),
    }
    with atomic_directory(args.out) as tmp:
        traj.save(tmp / "trajectory.npz")
        export_formats(traj, tmp, scene.export.formats, progress=not args.quiet)
        if options is not None:
            render_trajectory(traj, tmp / "render", options, progress=not args.quiet)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    rendered = ", render/" if options is not None else ""
    print(f"wrote {args.out}: trajectory.npz, metrics.json, the [export] formats{rendered} "
          f"({traj.num_frames} frames emulated in {emulated['wall_time_s']:.2f} s)")
    return 0


def _vector(text: str) -> tuple[float, ...]:
    """Parse three comma-separated finite numbers (a vector, or E,nu,density)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"expected three finite comma-separated numbers, got {text!r}"
        )
    return values


def _positive(text: str) -> float:
    """Parse a finite number > 0 (a size)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    """Parse a finite number >= 0 (a height above the floor)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _add_neurok_commands(sub: Any) -> None:
    neurok = sub.add_parser("neurok", help="learned emulation: data, training, simulation")
    commands = neurok.add_subparsers(dest="neurok_command", required=True)
    data = commands.add_parser("data", help="generate 4D training sequences with mpm")
    data.add_argument("-o", "--out", required=True, help="dataset directory")
    data.add_argument("--n", type=int, default=96, help="number of sequences (default 96)")
    data.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    data.add_argument("--duration", type=float, default=1.0,
                      help="seconds per sequence (default 1)")  # fmt: skip
    data.add_argument("--heldout", type=float, default=0.2,
                      help="fraction of the shapes held out, all of a shape's sequences "
                           "together (default 0.2)")  # fmt: skip
    data.add_argument("--cells-per-size", type=float, default=16.0,
                      help="MPM cells along the object's largest side (default 16)")  # fmt: skip
    data.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    data.set_defaults(handler=_cmd_neurok_data)
    train = commands.add_parser("train", help="train the emulator on a generated dataset")
    train.add_argument("--data", required=True, help="dataset directory (emu4d neurok data)")
    train.add_argument("-o", "--out", required=True, help="checkpoint file (.pt)")
    train.add_argument("--steps", type=int, default=6000, help="optimiser steps (default 6000)")
    train.add_argument("--batch", type=int, default=16, help="frames per step (default 16)")
    train.add_argument("--latent", type=int, default=16, help="CVAE latent size (default 16)")
    train.add_argument("--subspace", type=int, default=6, help="active subspace size (default 6)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--output", choices=("dual_quaternion", "displacement"),
                       default="dual_quaternion",
                       help="per-point decoder output (displacement: the ablation)")  # fmt: skip
    train.add_argument("--time-limit", type=float, default=2400.0,
                       help="stop training after this many seconds (default 2400)")  # fmt: skip
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_cmd_neurok_train)
    simulate = commands.add_parser("simulate", help="emulate a mesh with a trained model")
    simulate.add_argument("--mesh", required=True, help="closed mesh, e.g. assets/meshes/bunny.obj")
    simulate.add_argument("-o", "--out", required=True, help="output directory")
    simulate.add_argument("--checkpoint", default=None, help="model (default: the shipped one)")
    simulate.add_argument("--velocity", type=_vector, default=(0.0, 0.0, 0.0),
                          help="vx,vy,vz [m/s]")  # fmt: skip
    simulate.add_argument("--spin", type=_vector, default=(0.0, 0.0, 0.0), help="wx,wy,wz [rad/s]")
    simulate.add_argument("--scale", type=_positive, default=0.2,
                          help="largest side [m] (default 0.2)")  # fmt: skip
    simulate.add_argument("--height", type=_non_negative, default=0.3,
                          help="bottom above the floor [m] (default 0.3)")  # fmt: skip
    simulate.add_argument("--material", type=_vector, default=(5e4, 0.3, 1000.0),
                          help="E,nu,density (default 5e4,0.3,1000)")  # fmt: skip
    simulate.add_argument("--viscosity", type=float, default=10.0, help="[Pa s] (default 10)")
    simulate.add_argument("--yield-stress", type=float, default=0.0,
                          help="von Mises yield stress [Pa]: > 0 makes it plasticine (about "
                          "3e3 with --material 1e5,0.3,1400); default 0, elastic")  # fmt: skip
    simulate.add_argument("--duration", type=float, default=1.0, help="[s] (default 1)")
    simulate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    simulate.set_defaults(handler=_cmd_neurok_simulate)
    scene = commands.add_parser(
        "scene", help="emulate a scene file (one elastic or plasticine object, a ground, "
        "sphere colliders, forces, impulses) instead of simulating it with MPM")  # fmt: skip
    scene.add_argument("scene", help="scene file, e.g. assets/scenes/plasticine_strike.toml")
    scene.add_argument("-o", "--out", required=True, help="output directory")
    scene.add_argument("--checkpoint", default=None, help="model (default: the shipped one)")
    scene.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    scene.add_argument("--render", action="store_true", help="render a clip into OUT/render/")
    _add_render_arguments(scene)
    scene.set_defaults(handler=_cmd_neurok_scene)


def _add_render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--camera", default="orbit", choices=["orbit", "static", "dolly", "follow"],
        help="camera path, framed automatically around the scene (default orbit)",
    )  # fmt: skip
    parser.add_argument("--size", type=_size, default=(512, 512),
                        help="WIDTHxHEIGHT [px], 16..8192 (default 512x512)")  # fmt: skip
    parser.add_argument(
        "--passes", default="rgb,depth,mask,flow",
        help="comma-separated subset of rgb,depth,mask,normals,flow (default rgb,depth,mask,flow)",
    )  # fmt: skip
    parser.add_argument("--png", action="store_true", help="also write PNG sequences")
    parser.add_argument("--no-shadows", action="store_true", help="faster, flat lighting")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``emu4d`` command."""
    parser = argparse.ArgumentParser(prog="emu4d", description="4D physics emulation toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="simulate a scene file (TOML)")
    sim.add_argument("scene", help="scene file, e.g. assets/scenes/jelly_drop.toml")
    sim.add_argument("-o", "--out", required=True, help="output directory")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sim.add_argument("--render", action="store_true", help="render a clip into OUT/render/")
    _add_render_arguments(sim)
    sim.set_defaults(handler=_cmd_sim)
    hoi = sub.add_parser("hoi", help="a human acts on an MPM object (scene file, TOML)")
    hoi.add_argument("scene", help="HOI scene file, e.g. assets/scenes/punch_jelly.toml")
    hoi.add_argument("-o", "--out", required=True, help="output directory")
    hoi.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    hoi.add_argument("--no-render", action="store_true", help="skip the rendered clip")
    hoi.add_argument("--emulate", action="store_true",
                     help="emulate the object with the learned emulator (neurok) instead of MPM: "
                     "seconds instead of minutes, elastic and plasticine objects (experimental)")
    hoi.add_argument("--checkpoint", default=None,
                     help="emulator model for --emulate (default: the shipped one)")  # fmt: skip
    _add_render_arguments(hoi)
    hoi.set_defaults(handler=_cmd_hoi)
    render = sub.add_parser("render", help="render a trajectory.npz to videos and arrays")
    render.add_argument("trajectory", help="trajectory file written by `emu4d sim`")
    render.add_argument("-o", "--out", required=True, help="output directory")
    render.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_render_arguments(render)
    render.set_defaults(handler=_cmd_render)
    _add_neurok_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input, 1 for a failed run or write)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    try:
        return int(args.handler(args))
    # bad input: fix the scene or the path (-o naming a file or a directory of other files)
    except (ConfigError, FileNotFoundError, FileExistsError, NotADirectoryError) as exc:
        print(f"emu4d: error: {exc}", file=sys.stderr)
        return 2
    except (MPMError, OSError) as exc:  # the run or the writing failed
        print(f"emu4d: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
