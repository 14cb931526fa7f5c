"""One dream as the bot asks for it (:class:`DreamRequest`) and while it is under way
(:class:`ActiveDream`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import discord

from bot.attachments import InputImage
from bot.clip_input import check_clip_params
from bot.collaborators import JobHandle
from bot.dream_message import UPLOAD_HEADROOM
from bot.params_policy import describe_params
from dream_core.params import DreamParams

if TYPE_CHECKING:
    from bot.dream_message import DreamMessage
    from bot.progress import ProgressReporter


@dataclass
class DreamRequest:
    """Everything needed to start one dream."""

    user_id: int
    guild_id: Optional[int]
    channel_id: Optional[int]
    params: DreamParams
    image: Optional[InputImage]  # None: dream from noise
    guide: Optional[InputImage] = None
    source: str = "dream"  # dream | menu | preset | again | deeper | resumed (for the logs)
    notes: list[str] = field(default_factory=list)  # shown with the result (e.g. a lost guide)

    @classmethod
    def by(
        cls,
        interaction: discord.Interaction,
        params: DreamParams,
        image: Optional[InputImage],
        *,
        guide: Optional[InputImage] = None,
        source: str,
        notes: Optional[list[str]] = None,
    ) -> DreamRequest:
        """A dream by whoever made ``interaction``, where they made it. Raises
        :class:`ClipRejected` for params a clip can't take (a zoom animation)."""
        if image is not None and image.is_clip:
            check_clip_params(params)
        return cls(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            params=params,
            image=image,
            guide=guide,
            source=source,
            notes=notes if notes is not None else [],
        )

    @property
    def label(self) -> str:
        """What the progress message says is being dreamed (``mixed4 · medium · clip of 40 frames``)."""
        text = describe_params(self.params)
        if self.image is not None and self.image.clip is not None:
            text += f" · clip of {self.image.clip.n_frames} frames"
        return text


@dataclass
class ActiveDream:
    """A dream between submission and its final message."""

    dream_id: int
    user_id: int
    guild_id: Optional[int]
    message: Optional[DreamMessage] = None
    reporter: Optional[ProgressReporter] = None
    job: Optional[JobHandle] = None
    cancel_requested: bool = False
    handed_over: bool = False  # a shutdown gave it to the next bot process
    started: float = field(default_factory=time.monotonic)


def upload_limit(interaction: discord.Interaction) -> int:
    """The bytes a result may have to be posted where ``interaction`` happened."""
    guild = interaction.guild
    limit = guild.filesize_limit if guild else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    return limit - UPLOAD_HEADROOM


#: the upload limit of a resumed dream recorded without one (Discord's smallest)
DEFAULT_UPLOAD_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES - UPLOAD_HEADROOM
