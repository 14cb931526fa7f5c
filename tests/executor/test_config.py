"""ExecutorConfig: built from the bot's settings, devices parsed, bad values refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.executor_config import executor_config
from bot.settings import Settings
from dream_core.executor import ExecutorConfig, create_executor
from dream_core.executor.local import worker_options


def test_from_the_bots_settings():
    settings = Settings(
        executor_backend="ray",
        executor_devices="cuda:0, cuda:1",
        max_queue=7,
        max_queued_per_user=2,
        max_queued_per_guild=4,
        job_timeout_s=60,
        ray_address="auto",
        ray_actors=3,
        ray_gpus_per_actor=0.5,
        max_attachment_bytes=2_000_000,
        max_pixels=1_000_000,
        max_size=640,
        default_model="googlenet",
    )
    cfg = executor_config(settings, torch_threads=2)
    assert cfg.backend == "ray" and cfg.devices == ("cuda:0", "cuda:1")
    assert (cfg.max_queue, cfg.max_queued_per_user, cfg.max_queued_per_guild) == (7, 2, 4)
    assert cfg.job_timeout_s == 60 and cfg.torch_threads == 2
    assert (cfg.ray_address, cfg.ray_actors, cfg.ray_gpus_per_actor) == ("auto", 3, 0.5)
    assert (cfg.max_attachment_bytes, cfg.max_pixels, cfg.max_size) == (2_000_000, 1_000_000, 640)
    assert cfg.preload_models == ("googlenet",)
    assert executor_config(Settings()).devices is None  # auto: every GPU, else the CPU


def test_cpu_share_setting_reaches_the_workers(monkeypatch):
    assert executor_config(Settings(_env_file=None)).cpu_share == "auto"  # the default users get
    monkeypatch.setenv("DREAMBOT_CPU_SHARE", "off")
    cfg = executor_config(Settings(_env_file=None))
    assert cfg.cpu_share == "off"
    assert worker_options(cfg, ["cpu"]).cpu_share == "off"
    with pytest.raises(ValidationError):
        Settings(_env_file=None, cpu_share="sometimes")


def test_the_cpu_loops_setting_is_checked_when_the_bot_starts(monkeypatch):
    """The workers read DREAMBOT_CPU_LOOPS themselves; a bad value stops the bot at start, not a dream."""
    assert Settings(_env_file=None).cpu_loops == "auto"
    monkeypatch.setenv("DREAMBOT_CPU_LOOPS", "numba")
    assert Settings(_env_file=None).cpu_loops == "numba"
    monkeypatch.setenv("DREAMBOT_CPU_LOOPS", "fast")
    with pytest.raises(ValidationError, match="cpu_loops"):
        Settings(_env_file=None)


def test_bad_values_are_refused_clearly():
    with pytest.raises(ValidationError, match="unknown device 'gpu0'"):
        ExecutorConfig(devices="gpu0")
    with pytest.raises(ValidationError):
        ExecutorConfig(backend="kubernetes")
    with pytest.raises(ValueError, match="unknown executor backend"):
        create_executor(ExecutorConfig().model_copy(update={"backend": "kubernetes"}))
