"""DreamBot's settings, read once from the environment or a ``.env`` file.

Every setting has the ``DREAMBOT_`` prefix (``DREAMBOT_DATA_DIR``, ...), except
the Discord token, which is read from ``DISCORD_TOKEN``. This is the one
settings module the whole project (bot, store, web gallery, executor wiring)
shares.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DREAMBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- Discord -----------------------------------------------------------
    discord_token: Optional[SecretStr] = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "DREAMBOT_DISCORD_TOKEN")
    )
    test_guild_id: Optional[int] = Field(None, description="sync slash commands to this guild only")
    shard_count: Optional[int] = Field(None, ge=1, description="use the auto-sharded client with N shards")
    sharded: bool = Field(False, description="use the auto-sharded client (Discord picks the shard count)")
    sync_commands: bool = Field(True, description="register the slash commands with Discord on start")

    # --- storage -----------------------------------------------------------
    data_dir: Path = Path("./data")
    database_url: Optional[str] = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")

    # --- dreams ------------------------------------------------------------
    default_model: str = "efficientnet-lite0"
    max_attachment_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(40_000_000, ge=1024, description="largest accepted input, in pixels")
    max_size: int = Field(1024, ge=64, description="max working resolution (long side)")
    max_zoom_frames: int = Field(48, ge=0)
    # animated input (GIF / WebP / APNG / MP4 / WebM): checked in the bot, torch-free
    max_input_frames: int = Field(
        60, ge=2, le=1000, description="frames dreamed from a clip; a longer clip is sampled down in frame rate"
    )
    max_clip_seconds: float = Field(60.0, gt=0, description="longest clip accepted (play time)")
    max_clip_side: int = Field(512, ge=32, le=4096, description="long side of dreamed clip frames (larger: downscaled)")
    clip_timeout_max_s: float = Field(
        3600.0, gt=0, description="a clip's time limit grows with its frames from job_timeout_s up to this"
    )
    user_cooldown_s: float = Field(10.0, ge=0)
    guild_concurrent_jobs: int = Field(3, ge=1)
    max_presets_per_user: int = Field(25, ge=1)
    atlas_size: int = Field(128, ge=32, le=512, description="pixels per filter in an /atlas sheet (16 filters a sheet)")
    atlas_steps: int = Field(
        0, ge=0, le=10_000, description="optimisation steps of an /atlas render; 0: the renderer's default"
    )
    default_params: dict[str, Any] = Field(
        default_factory=dict,
        description="DreamParams overrides under every dream (JSON), e.g. '{\"octaves\": 2}'",
    )

    # --- bot behaviour -----------------------------------------------------
    message_content_intent: bool = Field(
        True, description="privileged intent: lets the bot see images in recent channel messages"
    )
    channel_scan_messages: int = Field(20, ge=0, le=100, description="messages searched for a recent image")
    progress_edit_interval_s: float = Field(1.5, ge=0, description="least time between two progress message edits")
    progress_previews: bool = Field(True, description="show octave previews in the progress message")
    shutdown_grace_s: float = Field(
        25.0, ge=0, description="on SIGTERM/SIGINT, how long running dreams may finish before they are handed over"
    )
    followup_window_s: float = Field(
        840.0, ge=0, description="after this long a result goes to the channel (interaction tokens last 15 min)"
    )
    allow_private_image_urls: bool = Field(False, description="let image_url fetch from private addresses")
    page_size: int = Field(5, ge=1, le=10, description="entries per page in /history and /gallery")

    # --- executor ----------------------------------------------------------
    executor_backend: Literal["local", "ray"] = "local"
    executor_devices: Optional[str] = Field(
        None, description="comma list like 'cuda:0,cuda:1' or 'cpu'; default: every GPU, else one CPU worker"
    )
    max_queue: int = Field(100, ge=1)
    max_queued_per_user: int = Field(3, ge=1)
    max_queued_per_guild: int = Field(20, ge=1)
    job_timeout_s: float = Field(900.0, gt=0)
    cpu_share: Literal["auto", "off"] = Field(
        "auto", description="auto: CPU workers' torch threads follow the cores other processes leave free"
    )
    cpu_loops: Literal["auto", "native", "numba"] = Field(
        "auto", description="the CPU workers' compiled loops (the workers read DREAMBOT_CPU_LOOPS; checked here)"
    )
    ray_address: Optional[str] = Field(None, description="'ray://host:10001' (Ray Client); default: a local Ray")
    ray_actors: Optional[int] = Field(None, ge=1, description="number of dream actors; default: one per GPU")
    ray_gpus_per_actor: float = Field(1.0, ge=0)

    # --- web gallery -------------------------------------------------------
    web_enabled: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    web_url: Optional[str] = Field(None, description="public base URL of the gallery, for links in chat")
    web_page_size: int = Field(24, ge=1, le=200, description="dreams per gallery page")
    metrics_host: str = Field("127.0.0.1", description="/metrics listens here, never on the gallery's port")
    metrics_port: int = Field(9108, ge=0, le=65535, description="port of /metrics and /healthz; 0: no listener")

    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'dreambot.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def export_dotenv(path: str | Path = ".env") -> list[str]:
    """Put the ``DREAMBOT_*`` entries of ``.env`` that the environment does not set into
    ``os.environ``, and return their names.

    The dream core and the workers read their own settings (``DREAMBOT_PRECISION``,
    ``DREAMBOT_ATLAS_DIR``, ``DREAMBOT_CPU_SHARE``, ...) from the environment; this way
    a value in ``.env`` reaches them too, as the README promises, and every process
    (workers inherit the environment) uses the same one.
    """
    from dotenv import dotenv_values

    added = []
    for key, value in dotenv_values(path).items():
        if key.startswith("DREAMBOT_") and value is not None and key not in os.environ:
            os.environ[key] = value
            added.append(key)
    return added


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once); ``.env``'s dream-core settings are exported first."""
    export_dotenv()
    return Settings()
