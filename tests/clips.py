"""Test clips as encoded bytes, made with Pillow and ffmpeg (one helper for every test area)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg
from PIL import Image


def pillow_clip(fmt: str, frames: list[Image.Image], durations: list[int] | int, **save_options: Any) -> bytes:
    """An animated ``fmt`` (``GIF``, ``WEBP``, ``PNG``) of ``frames`` shown ``durations`` ms each."""
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=durations, **save_options)
    return buf.getvalue()


def ffmpeg_file(tmp_path: Path, name: str, *args: str) -> bytes:
    """The bytes of ``tmp_path / name`` written by ``ffmpeg *args`` (quiet, overwriting)."""
    path = tmp_path / name
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args, str(path)], check=True)
    return path.read_bytes()


def pattern_video(tmp_path: Path, name: str, *args: str, size: str = "64x48", rate: int = 10) -> bytes:
    """A video of ffmpeg's moving test pattern; ``args`` follow the input (length, codec, ...)."""
    return ffmpeg_file(tmp_path, name, "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}", *args)


def audio_only(tmp_path: Path, name: str) -> bytes:
    """One second of a 440 Hz tone and no picture (``name``'s extension picks the container)."""
    return ffmpeg_file(tmp_path, name, "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1")


def tiny_frames_gif(n: int) -> bytes:
    """A GIF of ``n`` 2x2 frames, 20 ms each (a frame-count bomb for large ``n``)."""
    frames = []
    for i in range(n):
        f = Image.new("P", (2, 2), i % 2)
        f.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
        frames.append(f)
    return pillow_clip("GIF", frames, 20, optimize=False)


def huge_screen_gif(gif: bytes) -> bytes:
    """``gif`` claiming a 5000x5000 logical screen in its header (a header-only size bomb)."""
    data = bytearray(gif)
    data[6:10] = (5000).to_bytes(2, "little") * 2
    return bytes(data)
