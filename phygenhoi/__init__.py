"""phygenhoi: a human body that acts on MPM objects (PhyGenHOI, see shared/reference/papers.md).

    import mpm, phygenhoi
    scene = phygenhoi.HOIScene("punch", mpm.Box(size=(0.3, 0.3, 0.3), center=(0, 0, 1.16)),
                               mpm.materials.preset("jelly"), contact_time=0.8)
    result = scene.run()           # result.trajectory: object tracks + a "body" mesh track

Body: the shipped procedural body (SMPL file layout) or real SMPL files through ``smplx``.
Motion: the action library (punch, kick, push, slap), AMASS and BVH import. Windowed
attraction lands the effector on the object's surface; the body is a moving mesh collider.
``scene.run(emulator=neurok.load())`` emulates the object instead (experimental, see
:mod:`phygenhoi.emulated`).
"""

from __future__ import annotations

from phygenhoi.actions import ACTIONS, ActionMotion, make_action
from phygenhoi.attraction import AttractionResult, attract, select_contact
from phygenhoi.body import BodyModel, BodyOutput
from phygenhoi.errors import (
    ActionError,
    BodyModelError,
    ContactError,
    MotionError,
    PhyGenHOIError,
    SceneError,
)
from phygenhoi.hoi import HOIResult, HOIScene
from phygenhoi.mocap import load_amass, load_bvh
from phygenhoi.motion import Motion
from phygenhoi.skeleton import JOINT_NAMES, PARENTS

__all__ = [
    "ACTIONS",
    "JOINT_NAMES",
    "PARENTS",
    "ActionError",
    "ActionMotion",
    "AttractionResult",
    "BodyModel",
    "BodyModelError",
    "BodyOutput",
    "ContactError",
    "HOIResult",
    "HOIScene",
    "Motion",
    "MotionError",
    "PhyGenHOIError",
    "SceneError",
    "attract",
    "load_amass",
    "load_bvh",
    "make_action",
    "select_contact",
]
