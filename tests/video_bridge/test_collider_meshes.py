"""Colliders recorded in the metadata are drawn: their meshes follow the scripted poses."""

from __future__ import annotations

import numpy as np

import mpm
from video_bridge.collider_meshes import collider_tracks
from video_bridge.renderer import render


def test_keyframed_sphere_and_static_box_become_tracks() -> None:
    """A keyframed sphere's mesh is centred on its interpolated position at every frame
    (1e-6 m) with the sphere's radius; a box keeps its extents; half-spaces are skipped; the
    render labels them and they cover pixels."""
    sim = mpm.Simulator(domain_min=(-0.3, -0.3, -0.1), domain_max=(0.3, 0.3, 0.5), dx=0.03)
    sim.add_object(
        "cube", mpm.Box(size=(0.1, 0.1, 0.1), center=(0, 0, 0.06)), mpm.materials.preset("jelly")
    )
    sim.add_collider(mpm.colliders.Ground(height=0.0))
    sphere = mpm.colliders.Sphere(
        radius=0.05,
        keyframes=(
            {"time": 0.0, "position": (-0.2, 0, 0.1)},
            {"time": 0.2, "position": (-0.1, 0, 0.1)},
        ),
    )
    sim.add_collider(sphere)
    sim.add_collider(mpm.colliders.Box(center=(0.2, 0.2, 0.05), extents=(0.1, 0.1, 0.1)))
    traj = sim.run(duration=0.2, fps=20, progress=False)
    tracks = collider_tracks(traj)
    assert sorted(tracks) == ["collider_1", "collider_2"]
    ball = tracks["collider_1"].positions.astype(np.float64)
    for k, t in enumerate(traj.times):
        expected = sphere.pose_at(float(t)).position
        np.testing.assert_allclose(ball[k].mean(axis=0), expected, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(ball[k] - expected, axis=1), 0.05, atol=1e-6)
    box = tracks["collider_2"].positions[0]
    np.testing.assert_allclose(box.max(axis=0) - box.min(axis=0), (0.1, 0.1, 0.1), atol=1e-6)
    result = render(traj, "static", size=(96, 72), passes=("mask",), progress=False)
    labels = {v: k for k, v in result.labels.items()}
    assert np.count_nonzero(result.mask == labels["collider_1"]) > 0
    assert np.count_nonzero(result.mask == labels["collider_2"]) > 0
