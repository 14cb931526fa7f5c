"""Interactions a test sends to the bot, and the record of how the bot answered them.

:class:`InteractionHandle` is what ``FakeDiscord.slash()/click()/...`` return: it
collects the bot's callbacks (with their delay since dispatch), the original
response message and its edits, and follow-ups.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import FakeAttachment, FakeChannel, FakeMessage, FakeUser

if TYPE_CHECKING:
    from .server import FakeDiscord

# Interaction types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5

# Callback types
CALLBACK_NAMES = {
    1: "PONG",
    4: "CHANNEL_MESSAGE_WITH_SOURCE",
    5: "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE",
    6: "DEFERRED_UPDATE_MESSAGE",
    7: "UPDATE_MESSAGE",
    8: "APPLICATION_COMMAND_AUTOCOMPLETE_RESULT",
    9: "MODAL",
    10: "PREMIUM_REQUIRED",
    12: "LAUNCH_ACTIVITY",
}

# Application command option types
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11


class InteractionFailed(AssertionError):
    """The bot did not answer an interaction the way Discord requires."""


@dataclass
class CallbackRecord:
    """One ``POST /interactions/{id}/{token}/callback`` the bot made."""

    type: int
    data: dict[str, Any]
    delay: float  # seconds after the interaction was dispatched
    files: list[FakeAttachment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return CALLBACK_NAMES.get(self.type, str(self.type))

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & 64)


@dataclass(eq=False)
class InteractionHandle:
    """Everything the bot did in answer to one interaction.

    Attributes a test reads:
      ``callbacks`` (list of :class:`CallbackRecord`), ``callback`` (the first or None),
      ``ack_delay`` (seconds from dispatch to the first callback), ``original``
      (the :class:`FakeMessage` of the response, latest state; ``original.history``
      has every edit), ``followups`` (messages posted via the interaction webhook),
      ``choices`` (autocomplete result), ``modal`` (modal the bot opened: dict with
      custom_id/title/components), ``errors`` (HTTP errors the server answered on this
      interaction's routes, e.g. a second callback).
    """

    fake: FakeDiscord
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    user: FakeUser
    channel: FakeChannel | None
    message: FakeMessage | None = None  # message the component / context menu was used on
    dispatched_at: float = field(default_factory=time.monotonic)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    late_by: float | None = None  # set when the first callback came after the ack deadline (seconds)
    activity: int = 0  # bumped on every callback, edit and follow-up (see wait_for_final)

    # ---- derived views -------------------------------------------------------------
    @property
    def callback(self) -> CallbackRecord | None:
        return self.callbacks[0] if self.callbacks else None

    @property
    def acked(self) -> bool:
        return bool(self.callbacks)

    @property
    def ack_delay(self) -> float | None:
        return self.callbacks[0].delay if self.callbacks else None

    @property
    def deferred(self) -> bool:
        return bool(self.callbacks) and self.callbacks[0].type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        """Whether the response (callback or original message) is ephemeral."""
        if self.original is not None:
            return self.original.ephemeral
        return bool(self.callbacks) and self.callbacks[0].ephemeral

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        for cb in self.callbacks:
            if cb.type == 8:
                return list(cb.data.get("choices", []))
        return None

    @property
    def modal(self) -> dict[str, Any] | None:
        for cb in self.callbacks:
            if cb.type == 9:
                return cb.data
        return None

    @property
    def messages(self) -> list[FakeMessage]:
        """Original response (if any) then follow-ups."""
        return ([self.original] if self.original is not None else []) + list(self.followups)

    @property
    def text(self) -> str:
        """All text of the response messages (content and embeds), joined."""
        return "\n".join(m.text for m in self.messages)

    @property
    def attachments(self) -> list[FakeAttachment]:
        """Attachments on the response messages (original first, then follow-ups)."""
        return [a for m in self.messages for a in m.attachments]

    def elapsed(self) -> float:
        return time.monotonic() - self.dispatched_at

    # ---- waiting -----------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[InteractionHandle], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate(self)`` is truthy; return its value.

        On timeout the TimeoutError describes what the bot did so far (see :meth:`describe`).
        """
        try:
            return await self.fake.wait_for(lambda: predicate(self), timeout=timeout, what=f"interaction {self.id}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; so far: {self.describe()}") from None

    def describe(self) -> str:
        """One paragraph on what the bot did with this interaction (for failure messages)."""
        parts = [f"callbacks={[c.name for c in self.callbacks]}"]
        if self.original is not None:
            o = self.original
            state = "deleted" if o.deleted else ("thinking" if o.loading else "shown")
            parts.append(f"original({state}, {len(o.history) - 1} edits, files={[a.filename for a in o.attachments]})"
                         f"={o.text[:300]!r}")
        parts += [f"followup={m.text[:200]!r}" for m in self.followups if m is not self.original]
        if self.errors:
            parts.append(f"errors={self.errors}")
        return "; ".join(parts)

    async def wait_ack(self, timeout: float = 5.0) -> CallbackRecord:
        await self.wait_for(lambda h: h.acked, timeout=timeout)
        return self.callbacks[0]

    async def wait_for_original(
        self, predicate: Callable[[FakeMessage], Any] | None = None, timeout: float = 10.0
    ) -> FakeMessage:
        """Wait for an original response that is not "thinking" (and satisfies ``predicate``)."""

        def check(h: InteractionHandle) -> bool:
            m = h.original
            if m is not None and m.deleted:
                raise InteractionFailed(f"the original response was deleted; {h.describe()}")
            if m is None or m.loading:
                return False
            return predicate is None or bool(predicate(m))

        await self.wait_for(check, timeout=timeout)
        assert self.original is not None
        return self.original

    async def wait_for_followup(self, count: int = 1, timeout: float = 10.0) -> FakeMessage:
        """Wait until at least ``count`` follow-ups exist; return the ``count``-th."""
        await self.wait_for(lambda h: len(h.followups) >= count, timeout=timeout)
        return self.followups[count - 1]

    async def wait_for_final(self, timeout: float = 30.0, quiet: float = 0.5) -> InteractionHandle:
        """Wait until the bot answered, is no longer "thinking", and did nothing new for ``quiet`` s.

        Good for "run the command, then assert on the end state".  For long
        jobs with periodic progress edits prefer :meth:`wait_for` with a precise predicate.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            await self.wait_for(
                lambda h: h.acked and not (h.original is not None and h.original.loading),
                timeout=max(remaining, 0.01),
            )
            mark = self.activity
            await asyncio.sleep(quiet)
            if self.activity == mark and not (self.original and self.original.loading):
                return self
            if time.monotonic() > deadline:
                raise TimeoutError(f"interaction {self.id} kept changing for {timeout}s")

    # ---- acting on the result --------------------------------------------------------
    async def submit_modal(
        self, values: dict[str, str | list[str]], *, user: FakeUser | None = None
    ) -> InteractionHandle:
        """Submit the modal the bot opened (``values``: custom_id -> text, or list for selects)."""
        if self.modal is None:
            raise InteractionFailed(f"the bot opened no modal for interaction {self.id}")
        return await self.fake.submit_modal(self.modal, values, user=user or self.user, channel=self.channel,
                                            message=self.message)

    def __repr__(self) -> str:
        cbs = ",".join(c.name for c in self.callbacks)
        return f"<InteractionHandle id={self.id} type={self.type} callbacks=[{cbs}] followups={len(self.followups)}>"


def find_command_path(
    commands: list[dict[str, Any]], path: str
) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Resolve "group sub" style ``path`` to (top-level command, [sub names], leaf definition)."""
    words = path.split()
    top = next((c for c in commands if c["name"] == words[0] and c.get("type", 1) == 1), None)
    if top is None:
        names = sorted(c["name"] for c in commands if c.get("type", 1) == 1)
        raise KeyError(f"no slash command {words[0]!r} was synced; synced: {names}")
    leaf = top
    for word in words[1:]:
        subs = [o for o in leaf.get("options", []) if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        nxt = next((o for o in subs if o["name"] == word), None)
        if nxt is None:
            raise KeyError(f"{path!r}: no subcommand {word!r}; have {[o['name'] for o in subs]}")
        leaf = nxt
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in leaf.get("options", [])):
        raise KeyError(f"{path!r} is a group; name a subcommand")
    return top, words[1:], leaf
