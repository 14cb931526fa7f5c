"""One call for the executor: clip bytes in, encoded dreamed animation out."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from dream_core.clips.clip import Clip
from dream_core.clips.coherent import ClipResult, dream_clip
from dream_core.clips.decode import decode_clip
from dream_core.clips.encode import EncodedClip
from dream_core.clips.limits import ClipLimits, check_clip_params
from dream_core.params import DreamParams
from dream_core.results import CancelCheck, ProgressCallback

# Output format for each input container: the same kind where it plays everywhere.
DEFAULT_OUTPUT = {
    "GIF": "gif",
    "WEBP": "webp",
    "PNG": "gif",
}  # APNG -> GIF: chat apps show APNG still


@dataclass
class DreamedClip:
    """The encoded animation and the dream behind it."""

    encoded: EncodedClip
    result: ClipResult

    @property
    def data(self) -> bytes:
        return self.encoded.data

    @property
    def media_type(self) -> str:
        return self.encoded.media_type

    @property
    def notes(self) -> list[str]:
        return self.result.notes + self.encoded.notes


def default_output_format(source_format: str) -> str:
    """gif / webp for those inputs, gif for APNG, mp4 for videos."""
    return DEFAULT_OUTPUT.get(source_format.upper(), "mp4")


def dream_clip_bytes(
    clip: bytes | Clip,
    params: DreamParams | None = None,
    *,
    guide: Image.Image | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    fmt: str | None = None,
    max_bytes: int | None = None,
    limits: ClipLimits | None = None,
    device: str | None = None,
    weights: str | None = None,
) -> DreamedClip:
    """Decode (if bytes), check, dream coherently and encode a clip.

    ``fmt``: gif/webp/png (APNG)/mp4; default from the input (see
    :func:`default_output_format`). ``max_bytes``: re-encode as MP4 and
    downscale until it fits (notes say so). Raises ``DreamInputError`` (bad
    clip), ``DreamParamsError`` (zoom with a clip, won't fit),
    ``DreamCancelled``.
    """
    params = params or DreamParams()
    check_clip_params(params)
    decoded = clip if isinstance(clip, Clip) else decode_clip(clip, limits)
    result = dream_clip(
        decoded,
        params,
        guide=guide,
        progress=progress,
        cancel=cancel,
        device=device,
        weights=weights,
    )
    encoded = result.encode(fmt or default_output_format(decoded.format), max_bytes)
    return DreamedClip(encoded, result)
