"""The interaction with the object emulated by neurok (phygenhoi.emulated, body_spheres), on
the shipped checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

import mpm
import neurok
from phygenhoi import BodyModel, HOIScene, SceneError
from phygenhoi.body_spheres import body_spheres


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel()


def _punch(body: BodyModel, material: mpm.materials.Material) -> HOIScene:
    return HOIScene("punch", mpm.Box(size=(0.2, 0.2, 0.2), center=(0.0, 0.0, 1.4)), material,
                    body=body, contact_time=0.7, approach_speed=3.0, duration=1.0, fps=30,
                    dx=0.025)  # fmt: skip


def test_the_body_spheres_fill_the_skin_near_the_object(body: BodyModel) -> None:
    """For a punch at a cube, the balls are inscribed under the skin that comes within 0.2 m
    of the cube (measured 58, radii 1.0-5.4 cm): every ball's centre is inside the posed
    body at every frame (winding number); the striking hand has a ball within 3 cm of its
    joint at every frame (measured 0.7 cm at worst); the legs and feet, far from the cube,
    have none (no ball below 0.5 m; the lowest at 1.11 m)."""
    from mpm.meshio import RayWinding

    scene = _punch(body, mpm.materials.preset("jelly"))
    _, _, posed = scene.posed_action()
    low, high = (np.asarray(b) for b in scene.shape.bounds())
    spheres = body_spheres(posed, scene.fps, (low, high))
    assert 10 < len(spheres) < 200
    times = np.arange(len(posed.vertices)) / scene.fps
    paths = np.array([[s.pose_at(t).position for t in times] for s in spheres])  # (S, T, 3)
    for frame in range(len(times)):
        inside = RayWinding(posed.vertices[frame].astype(np.float64), posed.faces)
        assert inside(paths[:, frame]).all(), frame
    hand = posed.joints[:, 23].astype(np.float64)  # right_hand
    closest = np.linalg.norm(paths - hand[None], axis=2).min(axis=0)
    assert closest.max() < 0.03, closest.max()
    assert paths[:, :, 2].min() > 0.5


def test_an_emulated_punch_pushes_the_cube_as_the_mpm_punch_does(body: BodyModel) -> None:
    """The punch of test_hoi's strike table on a jelly cube (8 kg, E = 30 kPa, fist at 3
    m/s), emulated and simulated with MPM in the same run:
    - emulated, before contact the cube is where the same emulation without the body leaves
      it (< 1e-4 m), and it stays on its pedestal (the emulator's floor, at the cube's
      bottom: no point below it);
    - the momentum the body gives it is MPM's within 35 % (measured 6.10 against 4.81
      kg m/s, +27 %, and +28 / +29 % with two other seeds of the emulator's contact samples;
      summing overlapping body balls instead of taking their union gave 11.7, +150 %; the
      sphere's spring at 0.5 of the floor's with the floor's full damping 9.0, +88 %), along
      the fist's velocity (cosine > 0.9; measured 0.98, MPM 0.94);
    - it moves (> 2 cm; measured 7.8 cm, MPM 4.7 cm);
    - the result carries the body's mesh track and says which engine made it."""
    material = mpm.materials.Elastic(E=3e4, nu=0.3, density=1000.0, viscosity=10.0)
    result = _punch(body, material).run(progress=False, emulator=neurok.load())
    reference = _punch(body, material).run(progress=False).metrics
    m = result.metrics
    assert m["engine"] == "neurok" and m["body_spheres"] > 0
    assert m["object_displacement_before_contact_m"] < 1e-4, m
    emulated = np.asarray(m["transferred_momentum_kg_m_s"])
    simulated = np.asarray(reference["transferred_momentum_kg_m_s"])
    assert abs(np.linalg.norm(emulated) / np.linalg.norm(simulated) - 1.0) < 0.35, (
        emulated, simulated)
    assert m["impulse_effector_cosine"] > 0.9, m
    assert m["object_displacement_after_contact_m"] > 0.02, m
    surface = result.trajectory.tracks["object_surface"].positions
    assert surface[..., 2].min() >= 1.3 - 1e-6
    assert "body" in result.trajectory.tracks


def test_an_emulated_interaction_refuses_sand(body: BodyModel) -> None:
    """The emulator models elastic and plasticine objects: a sand cube raises a SceneError
    that says so, before any work."""
    scene = _punch(body, mpm.materials.preset("sand"))
    with pytest.raises(SceneError, match="elastic and plasticine"):
        scene.run(progress=False, emulator=neurok.load())
