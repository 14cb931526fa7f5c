"""Reading videos (MP4, WebM, ...) through imageio-ffmpeg: header, then frames. Torch-free.

ffmpeg reads files, so the bytes go to a temporary file first. Only the video
stream is read; sound is never decoded (the header says whether there was any).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dream_core.clips.clip import MIN_DURATION_MS, Clip, corrupt_error, fit_frame
from dream_core.clips.limits import ClipHeader, ClipLimits, ClipPlan, check_duration
from dream_core.errors import DreamInputError


def container_name(data: bytes) -> str:
    if data[4:8] == b"ftyp":
        return "QUICKTIME" if data[8:10] == b"qt" else "MP4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "WEBM" if b"webm" in data[:64] else "MATROSKA"
    return "AVI" if data.startswith(b"RIFF") else "VIDEO"


def probe_video(data: bytes, fmt: str) -> ClipHeader:
    with _video_file(data) as path:
        gen = _read_video(path)
        try:
            meta = next(gen)
        finally:
            gen.close()
    return video_header(meta, fmt)


def video_header(meta: dict, fmt: str) -> ClipHeader:
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


def decode_video(
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
                    frames.append(fit_frame(Image.fromarray(arr, "RGB"), plan.size))
                    counts.append(0)
                counts[-1] += 1
        except DreamInputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise corrupt_error(exc) from None
        finally:
            gen.close()
    check_duration(sum(counts) * frame_ms, limits)
    durations = [max(MIN_DURATION_MS, round(c * frame_ms)) for c in counts]
    return Clip(frames, durations, 0, header.format, sum(counts), header.size, [])


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
    import imageio_ffmpeg

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
