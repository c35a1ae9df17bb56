"""A human-object interaction with the object emulated by neurok instead of simulated by
MPM: the same action, attraction and posed body as :meth:`HOIScene.run`, the body acting on
the object as moving spheres (:func:`phygenhoi.body_spheres.body_spheres`), the object on its
support (the ground, or the pedestal's top) as the emulator's floor. The result has the same
tracks and metrics as the MPM run, so both can be compared, rendered and exported alike.

Experimental, measured against MPM (benchmarks/RESULTS.md): on assets/scenes/punch_jelly.toml
the emulated punch transfers 8.6 kg m/s against MPM's 8.5 and the cube slides 1.9 cm against
1.0 cm; on test_hoi's 8 kg jelly cube punches, pushes and kicks are within 27 % of MPM's
momentum, a slap gives half of it, and a plasticine cube 1.2 times MPM's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

import mpm
from phygenhoi.body_spheres import body_spheres
from phygenhoi.errors import ContactError, SceneError
from phygenhoi.interaction_metrics import contact_frame, impulse_frames, interaction_metrics

if TYPE_CHECKING:
    from phygenhoi.hoi import HOIResult, HOIScene

# interior sample points that carry the emulated object's mass (neurok.simulate's default):
# the first NUM_POINTS of its "object" track
NUM_POINTS = 128


def emulate_interaction(scene: HOIScene, model: Any, progress: bool = True) -> HOIResult:
    """Run ``scene`` with the object emulated by ``model`` (a trained neurok.NeuROK, or the
    path of its checkpoint).

    Raises:
        SceneError: the object's material is not elastic or plasticine (von Mises).
        ContactError: no part of the body comes near the object.
    """
    from neurok.arguments import as_model
    from neurok.emulator import simulate
    from neurok.material import MaterialParams
    from phygenhoi.hoi import HOIResult

    model = as_model(model, "HOIScene.run(emulator=...)")
    if not isinstance(scene.material, (mpm.materials.Elastic, mpm.materials.VonMises)):
        raise SceneError(
            f"the emulator models elastic and plasticine objects, not "
            f"{type(scene.material).__name__}; run this scene with MPM (no emulator, no --emulate)."
        )
    start = time.perf_counter()
    action, attraction, posed = scene.posed_action()
    low, high = (np.asarray(b, dtype=np.float64) for b in scene.shape.bounds())
    spheres = body_spheres(posed, scene.fps, (low, high), friction=scene.friction)
    if not spheres:
        raise ContactError(
            "no part of the body comes within 0.2 m of the object; move the object or the "
            "target height."
        )
    params = MaterialParams.of(scene.material)
    common = {"material": params, "duration": scene.duration, "fps": scene.fps,
              "ground": float(low[2]), "friction": scene.friction,
              "num_points": NUM_POINTS}  # fmt: skip
    emulated = simulate(model, scene.surface, colliders=spheres, progress=progress, **common)
    contact = contact_frame(posed.vertices, emulated.tracks["object"].positions[0], scene.dx)
    if contact is None:
        raise ContactError(
            f"the {action.effector} never comes within 1.5 x {scene.dx} m of the object; move "
            "the object or the target height."
        )
    mass = params.density * float(scene.surface.volume)
    tracks = dict(emulated.tracks)
    tracks["body"] = mpm.Track(positions=posed.vertices[: emulated.num_frames], faces=posed.faces)
    traj = mpm.Trajectory(times=emulated.times, tracks=tracks,
                          diagnostics=_diagnostics(emulated, mass, scene.fps),
                          metadata=dict(emulated.metadata))  # fmt: skip
    # the body-free emulation: the object's own settling into the floor cancels in the metrics
    untouched = simulate(model, scene.surface, progress=False, **common)
    window_end = min(contact + impulse_frames(scene.fps), traj.num_frames - 1)
    momentum = _diagnostics(untouched, mass, scene.fps)["linear_momentum"]
    reference = (untouched.tracks["object"].positions[: window_end + 1],
                 momentum[: window_end + 1])  # fmt: skip
    metrics = interaction_metrics(scene, traj, posed, action, attraction, contact, reference)
    metrics["engine"] = "neurok"
    metrics["body_spheres"] = len(spheres)
    metrics["wall_time_s"] = round(time.perf_counter() - start, 2)
    pedestal = scene.pedestal()
    # renders draw the body's mesh track, not its spheres; the pedestal as in the MPM run
    traj.metadata["colliders"] = [] if pedestal is None else [pedestal.to_dict()]
    traj.metadata["hoi"] = {
        "action": action.action,
        "effector": action.effector,
        "contact_time": scene.contact_time,
        "approach_speed": scene.approach_speed,
        "engine": "neurok",
        "metrics": metrics,
    }
    return HOIResult(trajectory=traj, action=action, attraction=attraction, metrics=metrics)


def _diagnostics(traj: mpm.Trajectory, mass: float, fps: float) -> dict[str, np.ndarray]:
    """Centre of mass [m] and linear momentum [kg m/s] per frame of an emulated object: its
    mass-carrying sample points (equal shares) and their velocity by central differences."""
    centre = traj.tracks["object"].positions[:, :NUM_POINTS].astype(np.float64).mean(axis=1)
    momentum = mass * np.gradient(centre, 1.0 / fps, axis=0)
    return {"center_of_mass:object": centre, "linear_momentum": momentum}
