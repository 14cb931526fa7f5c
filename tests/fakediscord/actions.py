"""What a test user does: slash commands, autocomplete, clicks, context menus, modal submits.

Each action builds the INTERACTION_CREATE payload Discord would send (checked
against the synced command definitions, like the Discord client does), dispatches
it on the gateway, and by default waits until the bot acknowledges it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import interactions as it
from .interactions import InteractionFailed, InteractionHandle, find_command_path
from .models import FakeChannel, FakeGuild, FakeMember, FakeMessage, FakeUser, FileSpec, UserLike, snowflake

if TYPE_CHECKING:
    from .models import FakeAttachment


class UserActionsMixin:
    """Part of :class:`~tests.fakediscord.server.FakeDiscord`: acting as a Discord user."""

    application_id: int
    upload_limit: int
    ack_deadline: float | None
    global_commands: list[dict[str, Any]]
    guild_commands: dict[int, list[dict[str, Any]]]
    interactions: dict[int, InteractionHandle]
    interactions_by_token: dict[str, InteractionHandle]
    world: Any

    if TYPE_CHECKING:  # provided by FakeDiscord or its other parts
        def now(self) -> float: ...
        def make_attachment(self, spec: FileSpec, channel: FakeChannel | None = None, *,
                            ephemeral: bool = False) -> FakeAttachment: ...
        async def dispatch(self, event: str, data: Any, *, guild_id: int | None = None) -> None: ...
        async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                           what: str = "condition") -> Any: ...

    def _default_user(self) -> FakeUser:
        if self.world is None:
            raise ValueError("pass user=... (or call setup_world() for default users)")
        return self.world.alice

    def _default_channel(self) -> FakeChannel:
        if self.world is None:
            raise ValueError("pass channel=... (or call setup_world() for default channels)")
        return self.world.general

    def commands_for(self, guild: FakeGuild | None) -> list[dict[str, Any]]:
        """Commands a user sees in ``guild`` (guild commands first, then global)."""
        cmds = list(self.guild_commands.get(guild.id, [])) if guild else []
        names = {(c["name"], c["type"]) for c in cmds}
        return cmds + [c for c in self.global_commands if (c["name"], c["type"]) not in names]

    def command(self, name: str, *, guild: FakeGuild | None = None, type: int = 1) -> dict[str, Any]:
        """The synced definition of a command as seen in ``guild`` (default: the world's guild).

        Raises KeyError listing the synced names."""
        if guild is None and self.world is not None:
            guild = self.world.guild
        for c in self.commands_for(guild):
            if c["name"] == name and c["type"] == type:
                return c
        have = [c["name"] for c in self.commands_for(guild)]
        raise KeyError(f"command {name!r} (type {type}) not synced; have {have}")

    def _check_can_use(self, cmd: dict[str, Any], user: FakeUser, channel: FakeChannel) -> None:
        perms = cmd.get("default_member_permissions")
        if perms is None or channel.guild is None:
            if channel.guild is None and (cmd.get("dm_permission") is False
                                          or (cmd.get("contexts") is not None and 1 not in cmd["contexts"])):
                raise InteractionFailed(f"/{cmd['name']} is not available in DMs")
            return
        member = channel.guild.member(user)
        if int(perms) & ~member.permissions:
            raise InteractionFailed(f"{user.name} cannot see /{cmd['name']} (needs permissions {perms})")

    def _interaction_payload(self, itype: int, data: dict[str, Any] | None, user: FakeUser, channel: FakeChannel,
                             message: FakeMessage | None) -> InteractionHandle:
        iid = snowflake()
        token = f"itok.{iid}.{secrets.token_urlsafe(24)}"
        guild = channel.guild
        ch = channel.to_payload()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.upload_limit,
            "app_permissions": str(channel.effective_bot_permissions),
            "channel_id": str(channel.id),
            "channel": ch,
        }
        if data is not None:
            payload["data"] = data
        if guild is not None:
            member = guild.member(user)
            ch["permissions"] = str(member.permissions)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                member=member.to_payload(with_permissions=True),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(user=user.to_payload(), authorizing_integration_owners={"0": "0"}, context=1)
        if message is not None:
            payload["message"] = message.to_payload()
        handle = InteractionHandle(fake=self, id=iid, token=token, type=itype, payload=payload, user=user,
                                   channel=channel, message=message)
        return handle

    async def send_interaction(self, handle: InteractionHandle, *, wait_ack: bool = True) -> InteractionHandle:
        """Dispatch INTERACTION_CREATE for ``handle``; by default wait until the bot acknowledges it.

        Raises :class:`InteractionFailed` ("This interaction failed" in the Discord client)
        if no acknowledgement arrives within :attr:`ack_deadline`.
        """
        self.interactions[handle.id] = handle
        self.interactions_by_token[handle.token] = handle
        handle.dispatched_at = self.now()
        await self.dispatch("INTERACTION_CREATE", handle.payload,
                            guild_id=handle.channel.guild_id if handle.channel else None)
        if wait_ack:
            limit = (self.ack_deadline or 10.0) + 0.5
            try:
                await self.wait_for(lambda: handle.acked or handle.errors, timeout=limit,
                                    what=f"the bot to acknowledge interaction {handle.id}")
            except TimeoutError:
                raise InteractionFailed(
                    f"the bot did not acknowledge interaction {handle.id} within {self.ack_deadline}s "
                    f"(users see 'This interaction failed')") from None
            if not handle.acked:
                if handle.late_by is not None:
                    raise InteractionFailed(
                        f"the bot acknowledged interaction {handle.id} after {handle.late_by:.2f}s; Discord allows "
                        f"{self.ack_deadline}s (answered 10062 Unknown interaction; users see 'This interaction "
                        f"failed')")
                raise InteractionFailed(f"interaction {handle.id} failed: {handle.errors}")
        return handle

    def _build_options(self, defs: list[dict[str, Any]], given: dict[str, Any], channel: FakeChannel,
                       resolved: dict[str, dict[str, Any]], *, focused: str | None, validate: bool
                       ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in defs}
        out: list[dict[str, Any]] = []
        for name, value in given.items():
            d = by_name.get(name)
            if d is None:
                raise KeyError(f"no option {name!r}; options are {list(by_name)}")
            t = d["type"]
            opt: dict[str, Any] = {"name": name, "type": t}
            if name == focused:
                opt.update(value=str(value), focused=True)
                out.append(opt)
                continue
            opt["value"] = self._option_value(d, value, channel, resolved, validate)
            out.append(opt)
        if validate and focused is None:
            missing = [d["name"] for d in defs if d.get("required") and d["name"] not in given]
            if missing:
                raise InteractionFailed(f"required options missing: {missing}")
        return out

    def _option_value(self, d: dict[str, Any], value: Any, channel: FakeChannel,
                      resolved: dict[str, dict[str, Any]], validate: bool) -> Any:
        t, name = d["type"], d["name"]
        guild = channel.guild
        if t in (it.STRING, it.INTEGER, it.NUMBER, it.BOOLEAN):
            value = {it.STRING: str, it.INTEGER: int, it.NUMBER: float, it.BOOLEAN: bool}[t](value)
            if validate:
                choices = d.get("choices")
                if choices and value not in [c["value"] for c in choices]:
                    raise InteractionFailed(f"{name}={value!r} is not one of the choices {choices}")
                if t == it.STRING and not d.get("min_length", 0) <= len(value) <= d.get("max_length", 6000):
                    raise InteractionFailed(f"{name}: length out of range")
                numeric = t in (it.INTEGER, it.NUMBER)
                too_low = numeric and "min_value" in d and value < d["min_value"]
                if too_low or (numeric and "max_value" in d and value > d["max_value"]):
                    raise InteractionFailed(f"{name}={value} out of range [{d.get('min_value')}, "
                                            f"{d.get('max_value')}]")
            return value
        if t == it.ATTACHMENT:
            att = self.make_attachment(value, channel, ephemeral=True)
            resolved.setdefault("attachments", {})[str(att.id)] = att.to_payload()
            return str(att.id)
        if t == it.USER or (t == it.MENTIONABLE and isinstance(value, (FakeUser, FakeMember))):
            user = value.user if isinstance(value, FakeMember) else value
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            if guild is not None and user.id in guild.members:
                resolved.setdefault("members", {})[str(user.id)] = guild.members[user.id].to_payload(
                    with_user=False, with_permissions=True)
            return str(user.id)
        if t in (it.ROLE, it.MENTIONABLE):
            resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
            return str(value.id)
        if t == it.CHANNEL:
            data = value.to_payload()
            data["permissions"] = str(value.effective_bot_permissions)
            resolved.setdefault("channels", {})[str(value.id)] = data
            return str(value.id)
        raise ValueError(f"unsupported option type {t}")

    def _command_data(self, command: str, options: dict[str, Any] | None, channel: FakeChannel, *,
                      focused: str | None, validate: bool, user: FakeUser) -> dict[str, Any]:
        cmds = self.commands_for(channel.guild)
        top, subs, leaf = find_command_path(cmds, command)
        if validate:
            self._check_can_use(top, user, channel)
        resolved: dict[str, dict[str, Any]] = {}
        opts = self._build_options(leaf.get("options", []), dict(options or {}), channel, resolved,
                                   focused=focused, validate=validate)
        for sub in reversed(subs):  # wrap leaf options in (group ->) subcommand options
            kind = it.SUB_COMMAND if sub == subs[-1] else it.SUB_COMMAND_GROUP
            opts = [{"name": sub, "type": kind, "options": opts}]
        data: dict[str, Any] = {"id": top["id"], "name": top["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if top.get("guild_id"):
            data["guild_id"] = top["guild_id"]
        return data

    async def slash(self, command: str, options: dict[str, Any] | None = None, *, user: UserLike | None = None,
                    channel: FakeChannel | None = None, attachments: dict[str, FileSpec] | None = None,
                    validate: bool = True, wait_ack: bool = True) -> InteractionHandle:
        """A user runs ``/command`` (``"group sub"`` for subcommands) with ``options``.

        Option values: str/int/float/bool, FakeUser/FakeMember, FakeChannel, FakeRole, and for
        attachment options a FakeAttachment or ``(bytes, filename[, content_type])`` (also
        accepted via ``attachments={name: ...}``).  With ``validate`` the server refuses (raises
        :class:`InteractionFailed`) what the Discord client would not send: unknown commands
        or options, missing required options, values outside choices/ranges, commands the
        user lacks ``default_member_permissions`` for.
        """
        user = self._user(user)
        channel = channel or self._default_channel()
        opts = dict(options or {})
        opts.update(attachments or {})
        data = self._command_data(command, opts, channel, focused=None, validate=validate, user=user)
        handle = self._interaction_payload(it.APPLICATION_COMMAND, data, user, channel, None)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def autocomplete(self, command: str, options: dict[str, Any], focused: str, *,
                           user: UserLike | None = None, channel: FakeChannel | None = None,
                           timeout: float | None = None) -> list[dict[str, Any]]:
        """A user types in option ``focused`` (its current text is ``options[focused]``); return the choices."""
        user = self._user(user)
        channel = channel or self._default_channel()
        opts = dict(options)
        opts.setdefault(focused, "")
        data = self._command_data(command, opts, channel, focused=focused, validate=False, user=user)
        handle = self._interaction_payload(it.AUTOCOMPLETE, data, user, channel, None)
        await self.send_interaction(handle, wait_ack=False)
        await handle.wait_for(lambda h: h.acked or h.errors, timeout=timeout or (self.ack_deadline or 5.0) + 0.5)
        if handle.choices is None:
            raise InteractionFailed(f"autocomplete for {command}.{focused} got {handle.callbacks} {handle.errors}")
        return handle.choices

    async def click(self, message: FakeMessage, custom_id: str, *, user: UserLike | None = None,
                    values: list[Any] | None = None, wait_ack: bool = True) -> InteractionHandle:
        """A user clicks the button (or picks ``values`` in the select) ``custom_id`` on ``message``."""
        user = self._user(user)
        comp = message.component(custom_id)
        if comp.get("disabled"):
            raise InteractionFailed(f"component {custom_id!r} is disabled")
        ctype = comp["type"]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype in (3, 5, 6, 7, 8):
            resolved: dict[str, dict[str, Any]] = {}
            vals: list[str] = []
            for v in values or []:
                if ctype == 3:
                    allowed = [o["value"] for o in comp.get("options", [])]
                    if v not in allowed:
                        raise InteractionFailed(f"{v!r} is not an option of {custom_id!r}: {allowed}")
                    vals.append(v)
                else:
                    kind = {5: it.USER, 6: it.ROLE, 8: it.CHANNEL}.get(ctype, it.MENTIONABLE)
                    vals.append(self._option_value({"type": kind, "name": custom_id}, v, message.channel,
                                                   resolved, False))
            if not comp.get("min_values", 1) <= len(vals) <= comp.get("max_values", 1):
                raise InteractionFailed(f"{custom_id!r} needs {comp.get('min_values', 1)}-"
                                        f"{comp.get('max_values', 1)} values, got {len(vals)}")
            data["values"] = vals
            if resolved:
                data["resolved"] = resolved
        elif ctype != 2:
            raise InteractionFailed(f"component {custom_id!r} (type {ctype}) is not clickable")
        elif comp.get("style") == 5:
            raise InteractionFailed(f"{custom_id!r} is a link button")
        handle = self._interaction_payload(it.MESSAGE_COMPONENT, data, user, message.channel, message)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def message_command(self, name: str, message: FakeMessage, *, user: UserLike | None = None,
                              wait_ack: bool = True) -> InteractionHandle:
        """A user runs the message context-menu command ``name`` ("Apps" > name) on ``message``."""
        user = self._user(user)
        cmd = self.command(name, guild=message.channel.guild, type=3)
        self._check_can_use(cmd, user, message.channel)
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 3, "target_id": str(message.id),
                                "resolved": {"messages": {str(message.id): message.to_payload()}}}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        handle = self._interaction_payload(it.APPLICATION_COMMAND, data, user, message.channel, None)
        handle.message = message
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def user_command(self, name: str, target: UserLike, *, user: UserLike | None = None,
                           channel: FakeChannel | None = None, wait_ack: bool = True) -> InteractionHandle:
        """A user runs the user context-menu command ``name`` on ``target``."""
        user = self._user(user)
        target = self._user(target)
        channel = channel or self._default_channel()
        cmd = self.command(name, guild=channel.guild, type=2)
        self._check_can_use(cmd, user, channel)
        resolved: dict[str, dict[str, Any]] = {}
        self._option_value({"type": it.USER, "name": "target"}, target, channel, resolved, False)
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 2, "target_id": str(target.id),
                                "resolved": resolved}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        handle = self._interaction_payload(it.APPLICATION_COMMAND, data, user, channel, None)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    async def submit_modal(self, modal: dict[str, Any], values: dict[str, Any], *, user: UserLike | None = None,
                           channel: FakeChannel | None = None, message: FakeMessage | None = None,
                           wait_ack: bool = True) -> InteractionHandle:
        """A user fills the ``modal`` the bot opened (``values``: custom_id -> text / list) and submits."""
        user = self._user(user)
        channel = channel or (message.channel if message else self._default_channel())
        remaining = dict(values)

        def fill(comp: dict[str, Any]) -> dict[str, Any] | None:
            t = comp.get("type")
            if t == 1:
                return {"type": 1, "components": [x for x in map(fill, comp.get("components", [])) if x]}
            if t == 18:
                inner = fill(comp["component"])
                return {"type": 18, "id": comp.get("id", 0), "component": inner} if inner else None
            cid = comp.get("custom_id")
            if cid is None:
                return None
            if t == 4:
                value = str(remaining.pop(cid, comp.get("value") or ""))
                if comp.get("required", True) and not value:
                    raise InteractionFailed(f"modal field {cid!r} is required")
                if len(value) > comp.get("max_length", 4000) or len(value) < comp.get("min_length", 0):
                    raise InteractionFailed(f"modal field {cid!r}: length out of range")
                return {"type": 4, "custom_id": cid, "value": value, "id": comp.get("id", 0)}
            vals = remaining.pop(cid, [])
            return {"type": t, "custom_id": cid, "values": list(vals), "id": comp.get("id", 0)}

        components = [x for x in map(fill, modal.get("components", [])) if x]
        if remaining:
            raise KeyError(f"modal {modal.get('custom_id')!r} has no fields {list(remaining)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        handle = self._interaction_payload(it.MODAL_SUBMIT, data, user, channel, message)
        return await self.send_interaction(handle, wait_ack=wait_ack)

    def _user(self, user: UserLike | None) -> FakeUser:
        if user is None:
            return self._default_user()
        return user.user if isinstance(user, FakeMember) else user
