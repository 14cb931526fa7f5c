"""Dense optical flow between frames, its reliability, and warping by it.

OpenCV's DIS optical flow (``opencv-python-headless``) does the estimation;
this module only wraps it for our frames (RGB PIL images / float arrays) and
adds the forward-backward consistency check. Torch-free.

Convention: ``flow = backward_flow(prev, cur)`` gives, for every pixel ``p``
of ``cur``, the offset to where it was in ``prev``; ``warp(prev_thing, flow)``
moves anything aligned with ``prev`` onto ``cur``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class FlowSettings:
    """Knobs of the reliability test.

    ``consistency_px``: forward-backward mismatch (px, plus a share of the
    motion) above which a pixel's flow is not trusted (occlusion).
    ``difference``: mean colour difference (0..1) between the current frame
    and the warped previous one above which a pixel is not trusted.
    ``scene_cut``: share of unreliable pixels above which the frames are
    treated as a cut (nothing carried over).
    """

    consistency_px: float = 1.0
    consistency_share: float = 0.05
    difference: float = 0.12
    scene_cut: float = 0.6
    feather_px: float = 2.0


def _gray(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.uint8)


def flow_between(src: Image.Image, dst: Image.Image) -> np.ndarray:
    """Dense flow ``[H, W, 2]`` (dx, dy) with ``dst(p) ~ src(p + flow(p))``.

    I.e. for each pixel of ``dst``, the offset to where it came from in ``src``.
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
    flow = dis.calc(_gray(dst), _gray(src), None)
    return np.asarray(flow, dtype=np.float32)


def warp(x: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Resample ``x`` ([H, W] or [H, W, C] float32) at ``p + flow(p)`` (bilinear, edges replicated)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = gx + flow[..., 0]
    map_y = gy + flow[..., 1]
    return cv2.remap(
        x, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def to_array(img: Image.Image) -> np.ndarray:
    """RGB image -> float32 [H, W, 3] in [0, 1]."""
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def to_pil(x: np.ndarray) -> Image.Image:
    """float [H, W, 3] in [0, 1] -> RGB image."""
    return Image.fromarray((np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")


@dataclass
class Motion:
    """How the previous frame maps onto the current one."""

    flow: (
        np.ndarray
    )  # [H, W, 2]: for each pixel of the current frame, where it was in the previous
    reliable: (
        np.ndarray
    )  # [H, W] float32 in [0, 1]: 1 = carry the previous frame's dream here
    scene_cut: bool

    @property
    def reliable_share(self) -> float:
        return float(self.reliable.mean())


def estimate_motion(
    prev: Image.Image, cur: Image.Image, settings: FlowSettings | None = None
) -> Motion:
    """Flow from ``cur`` back to ``prev`` and where it can be trusted.

    A pixel is unreliable when the forward-backward check fails (the flow
    from ``prev`` to ``cur`` doesn't bring it back: occlusion) or when the
    warped previous frame differs a lot from the current one there. When
    most of the frame is unreliable it is a scene cut: nothing is carried.
    """
    s = settings or FlowSettings()
    back = flow_between(prev, cur)  # cur pixel -> prev position
    fwd = flow_between(cur, prev)  # prev pixel -> cur position
    fwd_at = warp(fwd, back)  # the forward flow, read where each cur pixel came from
    mismatch = np.linalg.norm(back + fwd_at, axis=2)
    motion = np.linalg.norm(back, axis=2)
    consistent = mismatch <= s.consistency_px + s.consistency_share * motion
    prev_a, cur_a = to_array(prev), to_array(cur)
    diff = np.abs(warp(prev_a, back) - cur_a).mean(axis=2)
    similar = diff <= s.difference
    mask = (consistent & similar).astype(np.float32)
    if s.feather_px > 0:  # soft edges: no seam where the carried dream meets the source
        mask = np.minimum(mask, cv2.GaussianBlur(mask, (0, 0), s.feather_px))
    cut = float(mask.mean()) < 1.0 - s.scene_cut
    if cut:
        mask[:] = 0.0
    return Motion(back, mask, cut)
