"""The ``dreambot`` command line.

``dream``, ``layers``, ``models`` and ``atlas`` come from :mod:`dream_core.cli` (usable on
their own as ``python -m dream_core``); ``db``, ``run`` and ``web`` are the
service commands of the bot, its store and its web gallery.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional

log = logging.getLogger("dreambot")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import run_bot
    from bot.settings import get_settings

    settings = get_settings()
    _configure_logging(settings.log_level)
    return run_bot(settings) or 0


def _cmd_web(args: argparse.Namespace) -> int:
    from bot.settings import get_settings
    from bot.web.app import run_web

    settings = get_settings()
    _configure_logging(settings.log_level)
    return run_web(settings) or 0


DREAM_COMMANDS = ("dream", "layers", "models", "atlas")  # need neither the store nor SQLAlchemy
ONE_SHOT_COMMANDS = (*DREAM_COMMANDS, "warmup")  # leave without the interpreter's teardown (dream_core.quick_exit)


def build_parser(store_commands: bool = True) -> argparse.ArgumentParser:
    """The whole CLI; without ``store_commands`` the ``db`` commands (and their imports) are left out."""
    from dream_core.cli import add_subcommands as add_dream_subcommands

    parser = argparse.ArgumentParser(
        prog="dreambot", description="DreamBot: DeepDream as a Discord bot, a web gallery and a CLI."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_dream_subcommands(sub)

    if store_commands:
        from bot.store.db_cli import add_db_subcommands

        add_db_subcommands(sub)

    run = sub.add_parser("run", help="start the Discord bot, the executor and (if enabled) the web gallery")
    run.set_defaults(func=_cmd_run)
    web = sub.add_parser("web", help="serve the web gallery on its own")
    web.set_defaults(func=_cmd_web)
    return parser


def _command(words: Sequence[str]) -> str | None:
    """The subcommand named in ``words`` (the first word that is not a flag)."""
    return next((w for w in words if not w.startswith("-")), None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: the process's) and return its exit status."""
    from dream_core.cli import name_the_flag
    from dream_core.errors import DreamError

    words = list(sys.argv[1:] if argv is None else argv)
    command = _command(words)
    parser = build_parser(store_commands=command not in DREAM_COMMANDS)
    args = parser.parse_args(words)
    try:
        return int(args.func(args) or 0)
    except DreamError as exc:
        print(f"dreambot: error: {name_the_flag(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def entry() -> NoReturn:
    """The ``dreambot`` console script: :func:`main`, then the exit. The one-shot dream commands
    skip the interpreter's teardown (:mod:`dream_core.quick_exit`); the services exit normally."""
    words = sys.argv[1:]
    status = main(words)
    if _command(words) in ONE_SHOT_COMMANDS:
        from dream_core.quick_exit import leave

        leave(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
