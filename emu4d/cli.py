"""The ``emu4d`` command line.

    emu4d sim SCENE.toml -o OUT/      simulate a scene file, write trajectory.npz + exports
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from mpm.errors import ConfigError, MPMError


def _cmd_sim(args: argparse.Namespace) -> int:
    from emu4d.pipeline import simulate_scene
    from emu4d.scene import load_scene

    scene = load_scene(args.scene)
    result = simulate_scene(scene, args.out, progress=not args.quiet)
    summary = {k: result.metrics[k] for k in ("frames", "particles", "substeps", "wall_time_s")}
    print(f"wrote {len(result.files)} files to {args.out}: {json.dumps(summary)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``emu4d`` command."""
    parser = argparse.ArgumentParser(prog="emu4d", description="4D physics emulation toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="simulate a scene file (TOML)")
    sim.add_argument("scene", help="scene file, e.g. assets/scenes/jelly_drop.toml")
    sim.add_argument("-o", "--out", required=True, help="output directory")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(handler=_cmd_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input, 1 for a failed run or write)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    try:
        return int(args.handler(args))
    except (ConfigError, FileNotFoundError) as exc:  # bad input: fix the scene or the path
        print(f"emu4d: error: {exc}", file=sys.stderr)
        return 2
    except (MPMError, OSError) as exc:  # the run or the writing failed
        print(f"emu4d: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
