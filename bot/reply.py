"""Where a dream answers: the interaction that asked for it, live or restored.

:class:`InteractionReply` wraps the live :class:`discord.Interaction`.
:class:`StoredReply` is the same interaction rebuilt from the store after a restart
(its application id, token and channel): Discord honours the token for 15 minutes
whichever process holds it, so a resumed dream still edits the user's own message.
:class:`~bot.dream_message.DreamMessage` works through either.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any, Optional, Protocol

import discord

from bot.replies import send_error

#: how long Discord honours an interaction token
TOKEN_LIFETIME_S = 15 * 60
ORIGINAL: Any = "@original"  # discord.py's webhook routes take it where a message id goes


class Reply(Protocol):
    """The interaction a dream answers through."""

    channel_id: Optional[int]

    @property
    def created_at(self) -> float: ...  # epoch seconds

    async def edit_original(self, **kwargs: Any) -> Any: ...

    async def delete_original(self) -> None: ...

    async def send_ephemeral(self, text: str) -> None: ...

    def channel(self) -> Any: ...


def token_expiry(interaction: discord.Interaction) -> datetime:
    """When Discord stops honouring ``interaction``'s token."""
    return interaction.created_at + timedelta(seconds=TOKEN_LIFETIME_S)


class InteractionReply:
    """The live interaction."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.channel_id: Optional[int] = interaction.channel_id

    @property
    def created_at(self) -> float:
        return self.interaction.created_at.timestamp()

    async def edit_original(self, **kwargs: Any) -> Any:
        return await self.interaction.edit_original_response(**kwargs)

    async def delete_original(self) -> None:
        await self.interaction.delete_original_response()

    async def send_ephemeral(self, text: str) -> None:
        await send_error(self.interaction, text)

    def channel(self) -> Any:
        return self.interaction.channel


class StoredReply:
    """The interaction of a dream recorded by an earlier bot process (no live object)."""

    def __init__(
        self, client: discord.Client, *, token: Optional[str], expires_at: Optional[datetime], channel_id: Optional[int]
    ) -> None:
        self.client = client
        self.token = token
        # no token (a dream recorded before tokens were kept): only the channel is left
        self.expires_at = expires_at.timestamp() if token and expires_at is not None else 0.0
        self.channel_id = channel_id
        self._webhook: Optional[discord.Webhook] = None

    @property
    def created_at(self) -> float:
        return self.expires_at - TOKEN_LIFETIME_S

    def webhook(self) -> discord.Webhook:
        """The interaction's webhook, bound to the client (persistent buttons need its state)."""
        if self._webhook is None:
            if not self.token or self.client.application_id is None:
                raise RuntimeError("a reply without an interaction token has no webhook")
            hook = discord.Webhook.partial(self.client.application_id, self.token, client=self.client)
            hook.type = discord.WebhookType.application  # an interaction's webhook: ephemeral follow-ups allowed
            self._webhook = hook
        return self._webhook

    async def edit_original(self, **kwargs: Any) -> Any:
        return await self.webhook().edit_message(ORIGINAL, **kwargs)

    async def delete_original(self) -> None:
        await self.webhook().delete_message(ORIGINAL)

    async def send_ephemeral(self, text: str) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.webhook().send(f"⚠️ {text}", ephemeral=True)

    def channel(self) -> Any:
        if self.channel_id is None:
            return None
        return self.client.get_channel(self.channel_id) or self.client.get_partial_messageable(self.channel_id)

