"""How the fake answers the bot's interaction callbacks, follow-ups and their rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import interactions as it
from .interactions import CallbackRecord, InteractionHandle
from .models import FakeChannel, FakeMessage, FakeUser
from .rest import DiscordError, UploadedFile, invalid_form


class ResponsesMixin:
    """Part of :class:`~tests.fakediscord.server.FakeDiscord`: the bot's answers to interactions.

    Reproduces Discord: one acknowledgement per interaction within ``ack_deadline``,
    response types valid for the interaction type, "thinking" placeholders that the
    first edit or follow-up replaces, ephemeral messages kept out of channel history.
    """

    application_id: int
    bot_user: FakeUser
    ack_deadline: float | None

    if TYPE_CHECKING:  # provided by FakeDiscord or its other parts
        def now(self) -> float: ...
        def _touch(self) -> None: ...
        def new_message(self, channel: FakeChannel, author: FakeUser, **fields: Any) -> FakeMessage: ...
        def apply_message_payload(self, msg: FakeMessage, payload: dict[str, Any], files: list[UploadedFile], *,
                                  creating: bool) -> None: ...
        async def publish_message(self, msg: FakeMessage) -> None: ...
        async def publish_edit(self, msg: FakeMessage) -> None: ...

    def _response_message(self, handle: InteractionHandle, flags: int) -> FakeMessage:
        msg_type = 0
        if handle.type == it.APPLICATION_COMMAND:
            msg_type = 20 if handle.payload["data"].get("type", 1) == 1 else 23
        assert handle.channel is not None
        msg = self.new_message(handle.channel, self.bot_user, flags=flags, type=msg_type,
                               webhook_id=self.application_id, application_id=self.application_id)
        msg.interaction_metadata = {
            "id": str(handle.id),
            "type": handle.type,
            "user": handle.user.to_payload(),
            "authorizing_integration_owners": handle.payload.get("authorizing_integration_owners", {}),
        }
        if handle.type == it.APPLICATION_COMMAND:
            msg.interaction_metadata["name"] = handle.payload["data"]["name"]
        return msg

    async def handle_callback(self, handle: InteractionHandle, payload: dict[str, Any],
                              files: list[UploadedFile]) -> dict[str, Any]:
        delay = self.now() - handle.dispatched_at
        if handle.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if self.ack_deadline is not None and delay > self.ack_deadline:
            handle.late_by = delay
            raise DiscordError(404, 10062, "Unknown interaction")
        ctype = int(payload.get("type", 0))
        data = payload.get("data") or {}
        allowed = {
            it.APPLICATION_COMMAND: {4, 5, 9, 10, 12},
            it.MESSAGE_COMPONENT: {4, 5, 6, 7, 9, 10, 12},
            it.MODAL_SUBMIT: {4, 5, 6, 7, 10},
            it.AUTOCOMPLETE: {8},
        }[handle.type]
        if handle.type == it.MODAL_SUBMIT and handle.message is None:
            allowed = {4, 5, 10}
        if ctype not in allowed:
            raise DiscordError(400, 40043, f"Interaction response type {ctype} is not valid for interaction "
                                           f"type {handle.type}")
        record = CallbackRecord(type=ctype, data=data, delay=delay)
        message: FakeMessage | None = None
        flags = int(data.get("flags") or 0)
        if ctype == 4:
            message = self._response_message(handle, flags & (64 | 4 | 4096 | 32768))
            self.apply_message_payload(message, data, files, creating=True)
            handle.original = message
        elif ctype == 5:
            message = self._response_message(handle, (flags & 64) | 128)
            message.snapshot(self.now())
            handle.original = message
        elif ctype == 6:
            handle.original = handle.message
        elif ctype == 7:
            assert handle.message is not None
            self.apply_message_payload(handle.message, data, files, creating=False)
            handle.original = message = handle.message
        elif ctype == 8:
            choices = data.get("choices", [])
            if len(choices) > 25:
                raise invalid_form("more than 25 autocomplete choices")
            for c in choices:
                if not 1 <= len(c.get("name", "")) <= 100 or len(str(c.get("value", ""))) > 100:
                    raise invalid_form(f"autocomplete choice {c!r}: name/value must be 1-100 characters")
        elif ctype == 9:
            if not data.get("custom_id") or not data.get("title") or not data.get("components"):
                raise invalid_form("modal needs custom_id, title and components")
            if len(data["title"]) > 45:
                raise invalid_form("modal title longer than 45 characters")
        record.files = list(message.attachments) if message is not None and files else []
        handle.callbacks.append(record)
        handle.activity += 1
        if message is not None:
            if ctype == 7:
                await self.publish_edit(message)
            else:
                await self.publish_message(message)
        self._touch()
        interaction: dict[str, Any] = {
            "id": str(handle.id),
            "type": handle.type,
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": bool(flags & 64),
        }
        result: dict[str, Any] = {"interaction": interaction}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            result["resource"] = {"type": ctype, "message": message.to_payload()}
        return result

    async def handle_followup(self, handle: InteractionHandle, payload: dict[str, Any],
                              files: list[UploadedFile]) -> FakeMessage:
        if not handle.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        original = handle.original
        if original is not None and original.loading and not original.deleted and handle.callbacks[0].type == 5:
            # Discord: the first follow-up after a "thinking" defer replaces the placeholder.
            self.apply_message_payload(original, payload, files, creating=False)
            handle.followups.append(original)
            handle.activity += 1
            await self.publish_edit(original)
            return original
        flags = int(payload.get("flags") or 0) & (64 | 4 | 4096 | 32768)
        msg = self._response_message(handle, flags)
        self.apply_message_payload(msg, payload, files, creating=True)
        handle.followups.append(msg)
        handle.activity += 1
        await self.publish_message(msg)
        return msg
