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
import struct
import tempfile
import warnings
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from dream_core.clips.limits import (
    ClipHeader,
    ClipLimits,
    ClipPlan,
    check_duration,
    check_header,
    plan_clip,
)
from dream_core.errors import DreamInputError

DEFAULT_DURATION_MS = 100  # what browsers show a frame with no (or a ~0) duration for
MIN_DURATION_MS = 20
MAX_CLIP_BYTES = 25 * 1024 * 1024

Kind = Literal["video", "audio", "image", "unknown"]

_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")


@dataclass
class Clip:
    """Decoded frames of an animation, ready to dream.

    ``frames``: RGB images, all one size. ``durations``: ms per frame.
    ``loop``: as Pillow reports it (0 = forever; ``None`` = play once, GIF).
    ``source_frames`` / ``source_size``: of the file before sampling/downscaling.
    ``notes``: user-facing remarks (sampled, downscaled, sound dropped, ...).
    """

    frames: list[Image.Image]
    durations: list[int]
    loop: int | None = 0
    format: str = ""
    source_frames: int = 0
    source_size: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].size

    @property
    def duration_ms(self) -> int:
        return sum(self.durations)

    def __len__(self) -> int:
        return len(self.frames)


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
    """The bytes of a clip file (or the bytes given), refusing empty or oversized input."""
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DreamInputError(f"can't read {path}: {exc.strerror or exc}") from None
        if size > max_bytes:
            raise DreamInputError(
                f"file is too large ({size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.1f} MB)"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DreamInputError(f"can't read {path}: {exc.strerror or exc}") from None
    else:
        data = bytes(src)
    if not data:
        raise DreamInputError("the file is empty")
    if len(data) > max_bytes:
        raise DreamInputError(
            f"file is too large ({len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.1f} MB)"
        )
    return data


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
        _probe_video(data, _container(data))
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
        raise _corrupt(exc) from None


def _container(data: bytes) -> str:
    if data[4:8] == b"ftyp":
        return "QUICKTIME" if data[8:10] == b"qt" else "MP4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "WEBM" if b"webm" in data[:64] else "MATROSKA"
    return "AVI" if data.startswith(b"RIFF") else "VIDEO"


def _probe_video(data: bytes, fmt: str) -> ClipHeader:
    with _video_file(data) as path:
        gen = _read_video(path)
        try:
            meta = next(gen)
        finally:
            gen.close()
    return _video_header(meta, fmt)


def _video_header(meta: dict, fmt: str) -> ClipHeader:
    fps = float(meta.get("fps") or 0.0)
    dur = float(meta.get("duration") or 0.0)
    if fps <= 0 or not np.isfinite(fps):
        raise DreamInputError("the video's frame rate is unreadable (corrupt file?)")
    n = round(dur * fps) if dur > 0 else 0
    size = tuple(int(v) for v in meta.get("size", (0, 0)))
    return ClipHeader(
        fmt,
        (size[0], size[1]),
        n,
        dur * 1000 if dur > 0 else None,
        bool(meta.get("audio_codec")),
    )


# ------------------------------------------------------------------ decoding


def decode_clip(data: bytes, limits: ClipLimits | None = None) -> Clip:
    """Decode an animation into RGB frames of the planned size (see :func:`probe_clip`).

    Frames are read one at a time; only the kept ones are converted and
    downscaled, so memory holds the dreamed frames, never the whole source.
    """
    limits = limits or ClipLimits()
    header, plan = probe_clip(data, limits)
    if sniff(data) == "video":
        clip = _decode_video(data, header, plan, limits)
    else:
        clip = _decode_picture(data, header, plan)
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
                    frames.append(_fit(_rgb(frame), plan.size))
                    durations.append(0)
                durations[-1] += d
    except DreamInputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _corrupt(exc) from None
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


def _decode_video(
    data: bytes, header: ClipHeader, plan: ClipPlan, limits: ClipLimits
) -> Clip:
    frames: list[Image.Image] = []
    counts: list[int] = []
    w, h = header.size
    with _video_file(data) as path:
        gen = _read_video(path)
        try:
            meta = next(gen)
            frame_ms = 1000.0 / float(meta["fps"])
            for i, raw in enumerate(gen):
                if (
                    i >= limits.max_source_frames
                ):  # the header under-counted: refuse, don't decode forever
                    raise DreamInputError(
                        f"the clip has too many frames (over {limits.max_source_frames})"
                    )
                if i % plan.keep_every == 0:
                    arr = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
                    frames.append(_fit(Image.fromarray(arr, "RGB"), plan.size))
                    counts.append(0)
                counts[-1] += 1
        except DreamInputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _corrupt(exc) from None
        finally:
            gen.close()
    check_duration(sum(counts) * frame_ms, limits)
    durations = [max(MIN_DURATION_MS, round(c * frame_ms)) for c in counts]
    return Clip(frames, durations, 0, header.format, sum(counts), header.size, [])


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
            raise _corrupt(exc) from None
        return self.im

    def __exit__(self, *exc: object) -> None:
        if self.im is not None:
            self.im.close()


def _corrupt(exc: BaseException) -> DreamInputError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "truncated" in msg:
        return DreamInputError("the clip is truncated (incomplete download?)")
    if isinstance(exc, (EOFError, IndexError, struct.error)):
        return DreamInputError(
            "the clip is corrupt or truncated (incomplete download?)"
        )
    if isinstance(exc, (OSError, SyntaxError, ValueError, KeyError)):
        return DreamInputError(f"the clip is corrupt: {msg[:160]}")
    return DreamInputError(f"the clip can't be read: {msg[:160]}")


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


def _fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    return img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)


class _video_file:
    """The bytes in a temporary file (ffmpeg reads files), removed afterwards."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> str:
        self.dir = tempfile.TemporaryDirectory(prefix="dreambot-clip-")
        path = os.path.join(self.dir.name, "clip")
        Path(path).write_bytes(self.data)
        return path

    def __exit__(self, *exc: object) -> None:
        if self.dir is not None:
            self.dir.cleanup()


def _read_video(path: str) -> Generator[Any, None, None]:
    """imageio-ffmpeg's frame reader (first item: the meta dict), with its failures made readable."""
    import imageio_ffmpeg  # type: ignore[import-untyped]

    gen = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24")
    try:
        first = next(gen)
    except (OSError, RuntimeError, StopIteration) as exc:
        text = str(exc)
        if "Audio:" in text and "Video:" not in text:
            raise DreamInputError(
                "that's an audio-only file: there's no picture to dream"
            ) from None
        if "Input #0" in text and "Video:" not in text:
            raise DreamInputError("the clip has no frames (no video stream)") from None
        if (
            "Invalid data" in text
            or "moov atom not found" in text
            or "could not find codec" in text.lower()
        ):
            raise DreamInputError(
                "the clip is corrupt (the video container can't be read)"
            ) from None
        raise DreamInputError(
            "the clip can't be read (no video stream, or a corrupt file)"
        ) from None

    def chain() -> Generator[Any, None, None]:
        try:
            yield first
            yield from gen
        finally:
            gen.close()

    return chain()
