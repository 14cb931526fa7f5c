"""Reading animated input: animated GIF, WebP and APNG through Pillow; MP4,
WebM (and other videos ffmpeg reads) through imageio-ffmpeg.

Torch-free, so the bot can validate an upload cheaply with :func:`probe_clip`.
Every frame's duration and the loop count are kept. Sound is never read: a
clip with an audio track is dreamed silent (and a note says so); an
audio-only file is refused.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Literal

from PIL import Image, ImageSequence, UnidentifiedImageError

from dream_core.clips.clip import (
    DEFAULT_DURATION_MS,
    MIN_DURATION_MS,
    Clip,
    corrupt_error,
    fit_frame,
)
from dream_core.clips.limits import (
    ClipHeader,
    ClipLimits,
    ClipPlan,
    check_header,
    plan_clip,
)
from dream_core.clips.video import container_name, decode_video, probe_video
from dream_core.errors import DreamInputError
from dream_core.images import read_input_bytes

MAX_CLIP_BYTES = 25 * 1024 * 1024

Kind = Literal["video", "audio", "image", "unknown"]

_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")


def sniff(data: bytes) -> Kind:
    """What the bytes look like from their magic numbers (no decoding)."""
    head = data[:64]
    if head[4:8] == b"ftyp":
        return "audio" if head[8:12] in _AUDIO_BRANDS else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return "video"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(
        (b"ID3", b"OggS", b"fLaC", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    ) or (head.startswith(b"RIFF") and head[8:12] == b"WAVE"):
        return "audio"
    if head.startswith((b"GIF8", b"\x89PNG", b"\xff\xd8")) or (
        head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    ):
        return "image"
    return "unknown"


def is_clip(data: bytes) -> bool:
    """True for a video container, or a picture with more than one frame (cheap: reads headers only).

    A 1-frame "animation" is not a clip: it is dreamed as a still.
    """
    kind = sniff(data)
    if kind in ("video", "audio"):
        return True
    if kind != "image":
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return bool(getattr(im, "is_animated", False))
    except Exception:  # noqa: BLE001 - not decodable: let the still loader say why
        return False


def read_clip_bytes(
    src: bytes | str | os.PathLike[str], max_bytes: int = MAX_CLIP_BYTES
) -> bytes:
    """The bytes of a clip file (or the bytes given), refusing empty or oversized input
    (:func:`dream_core.images.read_input_bytes`)."""
    return read_input_bytes(src, max_bytes)


# ------------------------------------------------------------------ probing (no frame decoded)


def probe_clip(
    data: bytes, limits: ClipLimits | None = None
) -> tuple[ClipHeader, ClipPlan]:
    """Validate a clip from its header and plan its dream, without decoding frames.

    Raises :class:`DreamInputError` (one line) for an audio-only file, a
    corrupt container, zero frames, or a source over a limit.
    """
    limits = limits or ClipLimits()
    kind = sniff(data)
    if kind == "audio":
        raise DreamInputError("that's an audio-only file: there's no picture to dream")
    header = (
        probe_video(data, container_name(data))
        if kind == "video"
        else _probe_picture(data, limits)
    )
    return header, plan_clip(header, limits)


def _probe_picture(data: bytes, limits: ClipLimits) -> ClipHeader:
    try:
        with _opened(data) as im:
            w, h = im.size
            if (
                w * h > limits.max_frame_pixels
            ):  # before counting frames: refuse huge frames at once
                check_header(ClipHeader(im.format or "?", (w, h), 1, None), limits)
            n = int(getattr(im, "n_frames", 1))
            check_header(ClipHeader(im.format or "?", (w, h), n, None), limits)
            total = 0.0
            for i in range(
                n
            ):  # durations live in each frame's header; seeking doesn't decode pixels
                im.seek(i)
                if (
                    im.format == "WEBP"
                ):  # WebP sets a frame's duration when it is decoded
                    im.load()
                total += _duration(im.info.get("duration"))
            return ClipHeader(im.format or "?", (w, h), n, total)
    except DreamInputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise corrupt_error(exc) from None


def decode_clip(data: bytes, limits: ClipLimits | None = None) -> Clip:
    """Decode an animation into RGB frames of the planned size (see :func:`probe_clip`).

    Frames are read one at a time; only the kept ones are converted and
    downscaled, so memory holds the dreamed frames, never the whole source.
    """
    limits = limits or ClipLimits()
    header, plan = probe_clip(data, limits)
    video = sniff(data) == "video"
    clip = decode_video(data, header, plan, limits) if video else _decode_picture(data, header, plan)
    if not clip.frames:
        raise DreamInputError("the clip decodes to no frames")
    clip.notes = list(plan.notes) + clip.notes
    return clip


def _decode_picture(data: bytes, header: ClipHeader, plan: ClipPlan) -> Clip:
    frames: list[Image.Image] = []
    durations: list[float] = []
    notes: list[str] = []
    fixed = 0
    try:
        with _opened(data) as im:
            loop = im.info.get("loop")
            for i, frame in enumerate(ImageSequence.Iterator(im)):
                frame.load()  # WebP sets a frame's duration when it is decoded
                d = _duration(frame.info.get("duration"))
                fixed += d != frame.info.get("duration")
                if i % plan.keep_every == 0:
                    frames.append(fit_frame(_rgb(frame), plan.size))
                    durations.append(0)
                durations[-1] += d
    except DreamInputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise corrupt_error(exc) from None
    if fixed:
        notes.append(
            f"{fixed} frame(s) had no usable duration: shown for {DEFAULT_DURATION_MS} ms"
        )
    return Clip(
        frames,
        [round(d) for d in durations],
        loop if isinstance(loop, int) else None,
        header.format,
        header.n_frames,
        header.size,
        notes,
    )


# ------------------------------------------------------------------ helpers


class _opened:
    """``Image.open`` on bytes as a context manager, turning Pillow's failures into DreamInputError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.im: Image.Image | None = None

    def __enter__(self) -> Image.Image:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.im = Image.open(io.BytesIO(self.data))
        except UnidentifiedImageError:
            if self.data.startswith(b"GIF8"):
                raise DreamInputError("the GIF has no frames (or is corrupt)") from None
            raise DreamInputError(
                "not an image or a clip (or a format that can't be read)"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DreamInputError(
                "the clip's frames are too large (decompression bomb protection)"
            ) from None
        except Exception as exc:  # noqa: BLE001
            raise corrupt_error(exc) from None
        return self.im

    def __exit__(self, *exc: object) -> None:
        if self.im is not None:
            self.im.close()


def _duration(value: object) -> float:
    try:
        d = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_DURATION_MS
    return d if d >= MIN_DURATION_MS else DEFAULT_DURATION_MS


def _rgb(frame: Image.Image) -> Image.Image:
    """A frame as RGB; transparent pixels become white."""
    if frame.mode == "RGB":
        return frame.copy()
    rgba = frame.convert("RGBA")
    alpha_lo = rgba.getchannel("A").getextrema()[0]
    if alpha_lo == 255:
        return rgba.convert("RGB")
    bg = Image.new("RGB", rgba.size, (255, 255, 255))
    bg.paste(rgba, mask=rgba.getchannel("A"))
    return bg
