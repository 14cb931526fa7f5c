"""Points discord.py at a FakeDiscord in another process (tests only).

A test that runs the real ``dreambot run`` as a subprocess puts this folder on
the child's ``PYTHONPATH`` and sets ``FAKEDISCORD_URL`` to the fake's base
URL (``http://127.0.0.1:PORT``). Python imports ``sitecustomize`` at start-up;
this one adds an import hook that, once ``discord.http`` and ``discord.gateway``
are imported, re-points ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``
— the same two class attributes ``FakeDiscord.patch_discord`` sets in-process —
and lowers ``guild_ready_timeout`` to 0.1 s as ``FakeDiscord.run_bot`` does.
Nothing is imported eagerly, so a worker process that never imports discord.py
pays nothing. The bot's own code is unchanged: this is the edge of the test.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Optional

_BASE = os.environ.get("FAKEDISCORD_URL", "").rstrip("/")


def _patch(module: ModuleType) -> None:
    if module.__name__ == "discord.http":
        module.Route.BASE = f"{_BASE}/api/v10"
    elif module.__name__ == "discord.gateway":
        import yarl

        module.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_BASE.replace("http", "ws", 1) + "/gateway")
    elif module.__name__ == "discord.state":
        # as FakeDiscord.run_bot does in-process: the fake sends every GUILD_CREATE at once,
        # so waiting 2 s for more before on_ready only slows the tests down
        init = module.ConnectionState.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            self.guild_ready_timeout = min(self.guild_ready_timeout, 0.1)

        module.ConnectionState.__init__ = __init__


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: Any) -> Optional[ModuleType]:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    targets = {"discord.http", "discord.gateway", "discord.state"}

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.targets:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


if _BASE:
    sys.meta_path.insert(0, _Finder())
