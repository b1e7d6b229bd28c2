"""MuJoCo offscreen frames of a swimmer, made in a child process with its own OpenGL backend.

``python -m neuro.models.ncap.glframes IN.npz OUT.npz`` reads ``n_links``, ``qpos [K, nq]``,
``width``, ``height``, ``lookat [3]``, ``distance``, ``elevation``, ``azimuth`` from ``IN.npz`` and
writes ``frames [K, height, width, 3]`` (uint8) to ``OUT.npz``. The parent sets ``MUJOCO_GL`` (and
``PYOPENGL_PLATFORM``) to ``egl`` or ``osmesa`` for the child: the backend is chosen when MuJoCo is
imported, so a process that simulates without OpenGL (``MUJOCO_GL=disable``) renders through this
child instead of re-importing MuJoCo.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def render_frames(n_links: int, qpos: np.ndarray, width: int, height: int, lookat: np.ndarray,
                  distance: float, elevation: float, azimuth: float) -> np.ndarray:
    """Frames ``[K, height, width, 3]`` of the swimmer at each row of ``qpos`` (free camera)."""
    import mujoco

    from neuro.models.ncap.tasks import make_env

    env = make_env("swim", n_links, random=0)
    env.reset()  # hides the target
    physics = env.physics
    model, data = physics.model.ptr, physics.data.ptr
    renderer = mujoco.Renderer(model, height, width)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = lookat
    camera.distance, camera.elevation, camera.azimuth = distance, elevation, azimuth
    frames = []
    for q in qpos:
        data.qpos[:] = q
        data.qvel[:] = 0
        mujoco.mj_forward(model, data)
        renderer.update_scene(data, camera=camera)
        frames.append(renderer.render().copy())
    renderer.close()
    return np.stack(frames)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m neuro.models.ncap.glframes IN.npz OUT.npz", file=sys.stderr)
        return 2
    with np.load(argv[0], allow_pickle=False) as f:
        args = {k: f[k] for k in f.files}
    frames = render_frames(int(args["n_links"]), args["qpos"], int(args["width"]), int(args["height"]),
                           args["lookat"], float(args["distance"]), float(args["elevation"]),
                           float(args["azimuth"]))
    np.savez_compressed(Path(argv[1]), frames=frames)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
