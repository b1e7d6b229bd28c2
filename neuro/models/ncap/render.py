"""Pictures of the swimmer: a strip of frames over one oscillation, and the joint-angle wave.

:func:`draw_strip` renders the frames with MuJoCo offscreen where an OpenGL backend works (EGL, then
OSMesa, each tried in a child process: :mod:`neuro.models.ncap.glframes`), else draws the links
with matplotlib from the recorded link poses (each link is a capsule of half-length 5 cm along its
local y axis; the head points along its local -y). :func:`plot_joint_traces` shows the joint angles
over time, head first, as traces and as a joint x time map where the travelling wave appears as
diagonal stripes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from neuro._io import PathLike, pyplot, save_figure
from neuro.models.ncap.analysis import wave_lags
from neuro.models.ncap.env import Rollout, rollout

HALF_LENGTH = 0.05  # m, half of a link (dm_control swimmer)
BACKENDS = ("auto", "egl", "osmesa", "matplotlib")
CONTROL_DT = 0.03


class RenderUnavailable(RuntimeError):
    """No MuJoCo OpenGL backend could render here."""


def record_episode(policy: torch.nn.Module, seed: int = 0, steps: int = 600,
                   n_links: int | None = None) -> Rollout:
    """One recorded episode (joint angles, torques, link poses, qpos) of ``policy``."""
    return rollout(policy, [seed], steps, n_links=n_links, record=True)


def link_segments(positions: np.ndarray, orientations: np.ndarray,
                  half_length: float = HALF_LENGTH) -> np.ndarray:
    """Endpoints ``[L, 2, 2]`` (front, back; x, y) of the links from ``positions [L, 3]`` and
    ``orientations [L, 3, 3]``; the front end is the one toward the head."""
    axis = orientations[:, :, 1]  # local y axis in world coordinates
    front = positions - half_length * axis
    back = positions + half_length * axis
    return np.stack((front[:, :2], back[:, :2]), axis=1)


def strip_steps(start: int, period: int = 60, frames: int = 6) -> list[int]:
    """``frames`` evenly spaced steps covering one oscillation from ``start``."""
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    return [start + round(k * period / frames) for k in range(frames)]


def mujoco_frames(n_links: int, qpos: np.ndarray, width: int = 320, height: int = 320,
                  lookat: Sequence[float] = (0.0, 0.0, 0.0), distance: float = 1.0,
                  elevation: float = -90.0, azimuth: float = 90.0, backend: str = "auto",
                  timeout: float = 120.0) -> tuple[np.ndarray, str]:
    """Offscreen MuJoCo frames ``[K, height, width, 3]`` and the OpenGL backend that made them.

    ``backend`` ``"auto"`` tries EGL then OSMesa; raises :class:`RenderUnavailable` with each
    backend's error when none works.
    """
    if backend not in ("auto", "egl", "osmesa"):
        raise ValueError(f"backend must be 'auto', 'egl' or 'osmesa', got {backend!r}")
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, n_links=n_links, qpos=np.asarray(qpos, dtype=np.float64), width=width, height=height,
                 lookat=np.asarray(lookat, dtype=np.float64), distance=distance, elevation=elevation,
                 azimuth=azimuth)
        for name in (("egl", "osmesa") if backend == "auto" else (backend,)):
            env = {**os.environ, "MUJOCO_GL": name, "PYOPENGL_PLATFORM": name}
            try:
                command = [sys.executable, "-m", "neuro.models.ncap.glframes", str(src), str(dst)]
                proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                errors.append(f"{name}: timed out after {timeout} s")
                continue
            if proc.returncode == 0 and dst.is_file():
                with np.load(dst, allow_pickle=False) as f:
                    return f["frames"], name
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            errors.append(f"{name}: {tail}")
    raise RenderUnavailable("MuJoCo offscreen rendering failed (" + "; ".join(errors) + ")")


def _view(recording: Rollout, steps: Sequence[int], n_links: int) -> tuple[np.ndarray, float]:
    positions = recording.positions[list(steps), 0]  # [K, L, 3]
    center = positions.reshape(-1, 3).mean(0)
    extent = np.abs(positions[..., :2] - center[:2]).max() + 2 * HALF_LENGTH
    return center, float(extent)


def _draw_links(ax, recording: Rollout, step: int, center: np.ndarray, extent: float,
                trail: Sequence[int]) -> None:
    segments = link_segments(recording.positions[step, 0], recording.orientations[step, 0])
    head = recording.positions[list(trail), 0, 0, :2]
    ax.plot(head[:, 0], head[:, 1], ":", color="0.6", lw=1)
    for k, (front, back) in enumerate(segments):
        ax.plot([front[0], back[0]], [front[1], back[1]], "-", lw=6, solid_capstyle="round",
                color="tab:red" if k == 0 else "tab:orange")
    ax.plot(*segments[0, 0], "o", color="k", ms=3)  # the nose
    ax.set_xlim(center[0] - extent, center[0] + extent)
    ax.set_ylim(center[1] - extent, center[1] + extent)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def draw_strip(recording: Rollout, path: PathLike, steps: Sequence[int], backend: str = "auto",
               dt: float = CONTROL_DT, title: str | None = None, size: int = 320) -> str:
    """Write a strip of the swimmer at ``steps`` to ``path``; returns the renderer used
    (``"egl"`` / ``"osmesa"`` for MuJoCo, ``"matplotlib"`` for the drawn links)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if recording.positions is None:
        raise ValueError("the recording has no link poses: record it with record=True")
    steps = [int(s) for s in steps]
    if min(steps) < 0 or max(steps) >= recording.positions.shape[0]:
        raise ValueError(f"steps must lie in [0, {recording.positions.shape[0] - 1}], got {steps}")
    n_links = recording.positions.shape[2]
    center, extent = _view(recording, steps, n_links)
    frames, used = None, "matplotlib"
    if backend != "matplotlib":
        try:
            # top-down free camera (azimuth 90: world +x to the right); distance from the field of
            # view (45 deg) so that the region of half-width `extent` fills the frame
            distance = extent / np.tan(np.radians(22.5))
            frames, used = mujoco_frames(n_links, recording.qpos[steps, 0], size, size, center, distance,
                                         -90.0, 90.0, "auto" if backend == "auto" else backend)
        except RenderUnavailable as err:
            if backend != "auto":
                raise
            print(f"neuro swimmer: {err}; drawing the links with matplotlib instead", file=sys.stderr)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(steps), figsize=(2.3 * len(steps), 2.7))
    axes = np.atleast_1d(axes)
    trail = range(min(steps), max(steps) + 1)
    for ax, step, k in zip(axes, steps, range(len(steps))):
        if frames is not None:
            ax.imshow(frames[k])
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            _draw_links(ax, recording, step, center, extent, trail)
        ax.set_title(f"t = {step * dt:.2f} s", fontsize=9)
    renderer = f"MuJoCo offscreen ({used})" if frames is not None else "links drawn from body poses"
    fig.suptitle(title or f"{n_links}-link swimmer over one oscillation ({renderer})", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return used


def plot_joint_traces(recording: Rollout, path: PathLike, start: int = 0, stop: int | None = None,
                      dt: float = CONTROL_DT, title: str | None = None, max_lag: int = 30) -> np.ndarray:
    """Joint angles (head first) as offset traces and as a joint x time map; returns the wave lags
    (steps of joint i behind joint i - 1, by cross-correlation over the shown window)."""
    if recording.joints is None:
        raise ValueError("the recording has no joint angles: record it with record=True")
    angles = recording.joints[start:stop, 0]  # [T, J]
    lags = wave_lags(angles, max_lag)
    t = (start + np.arange(angles.shape[0])) * dt
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 2]})
    n = angles.shape[1]
    spacing = 2 * np.abs(angles).max()
    colors = plt.cm.viridis(np.linspace(0, 0.9, n))
    for j in range(n):
        ax1.plot(t, angles[:, j] - j * spacing, color=colors[j], lw=1.4)
    labels = ["joint 0 (head)"] + [f"joint {j}\nlag {lags[j - 1]}" for j in range(1, n)]
    ax1.set_yticks([-j * spacing for j in range(n)], labels, fontsize=8)
    ax1.set_ylabel("joint angle (offset per joint)")
    image = ax2.imshow(angles.T, aspect="auto", cmap="coolwarm", origin="upper",
                       extent=(t[0], t[-1] + dt, n - 0.5, -0.5))
    ax2.set_ylabel("joint (head = 0)")
    ax2.set_xlabel("time (s)")
    fig.colorbar(image, ax=ax2, label="angle (rad)", pad=0.01)
    fig.suptitle(title or f"head-to-tail wave: mean lag {lags.mean():.1f} steps "
                 f"({lags.mean() * dt:.2f} s) per joint", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return lags


def plot_learning_curve(history: Sequence[dict], path: PathLike, title: str | None = None) -> None:
    """Evaluation return (and population mean) against training episodes of one ES run."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    episodes = np.array([h["episodes"] for h in history], dtype=float)
    pop = np.array([h["pop_mean"] for h in history], dtype=float)
    evals = np.array([h["eval_mean"] for h in history], dtype=float)
    ax.plot(episodes, pop, color="0.6", lw=1, label="population mean (training episodes)")
    ok = ~np.isnan(evals)
    ax.plot(episodes[ok], evals[ok], "o-", color="tab:blue", ms=3, label="current weights, eval episodes")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("return (max 1000)")
    ax.legend(fontsize=8)
    ax.set_title(title or "evolution strategies", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


__all__ = ["BACKENDS", "RenderUnavailable", "draw_strip", "link_segments", "mujoco_frames",
           "plot_joint_traces", "plot_learning_curve", "record_episode", "strip_steps"]
