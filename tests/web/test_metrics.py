"""bot.metrics: the collectors the bot, executor wiring and /metrics share."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import JOB_STATUSES, Metrics, get_metrics, workers_alive


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_jobs_counted_by_status_and_zero_series_exported():
    m = Metrics()
    before = samples(m)
    for status in JOB_STATUSES:
        assert before[("dreambot_jobs_total", (("status", status),))] == 0
    m.job_submitted()
    m.job_submitted()
    m.job_done(seconds=12.5)
    m.job_failed()
    m.job_cancelled()
    m.job_refused()
    s = samples(m)
    assert s[("dreambot_jobs_total", (("status", "submitted"),))] == 2
    assert s[("dreambot_jobs_total", (("status", "done"),))] == 1
    assert s[("dreambot_jobs_total", (("status", "failed"),))] == 1
    assert s[("dreambot_dream_seconds_count", ())] == 1
    assert s[("dreambot_dream_seconds_sum", ())] == 12.5
    assert s[("dreambot_dream_seconds_bucket", (("le", "10.0"),))] == 0
    assert s[("dreambot_dream_seconds_bucket", (("le", "20.0"),))] == 1
    with pytest.raises(ValueError, match="unknown job status"):
        m.job("exploded")


def test_queue_workers_restarts_and_interactions():
    m = Metrics()
    m.set_queue_depth(4)
    m.worker_restarted()
    m.worker_restarted(2)
    m.observe_interaction(0.3, "dream")
    with m.time_interaction("presets"):
        pass
    s = samples(m)
    assert s[("dreambot_queue_depth", ())] == 4
    assert s[("dreambot_worker_restarts_total", ())] == 3
    assert s[("dreambot_discord_interaction_seconds_count", (("command", "dream"),))] == 1
    assert s[("dreambot_discord_interaction_seconds_bucket", (("command", "dream"), ("le", "0.25")))] == 0
    assert s[("dreambot_discord_interaction_seconds_bucket", (("command", "dream"), ("le", "0.5")))] == 1
    assert s[("dreambot_discord_interaction_seconds_count", (("command", "presets"),))] == 1


def test_executor_status_refresh():
    from dream_core.executor.status import ExecutorStatus, WorkerInfo

    m = Metrics()
    workers = (WorkerInfo("w0", "cpu", alive=True), WorkerInfo("w1", "cpu", alive=False))
    status = ExecutorStatus(
        "local", True, queue_depth=7, running_jobs=1, workers=workers, workers_alive=1, worker_restarts=2
    )
    m.update_from_executor_status(status)
    s = samples(m)
    assert s[("dreambot_queue_depth", ())] == 7
    assert s[("dreambot_workers_alive", ())] == 1
    assert s[("dreambot_worker_restarts_total", ())] == 2
    assert workers_alive(status) == 1
    m.update_from_executor_status(ExecutorStatus("local", True, queue_depth=2, running_jobs=0, workers_alive=3))
    s = samples(m)
    assert s[("dreambot_queue_depth", ())] == 2
    assert s[("dreambot_workers_alive", ())] == 3
    assert s[("dreambot_worker_restarts_total", ())] == 2  # never backwards


def test_registries_are_separate_and_default_is_shared():
    a, b = Metrics(), Metrics()
    a.job_done()
    assert samples(b)[("dreambot_jobs_total", (("status", "done"),))] == 0
    assert get_metrics() is get_metrics()


def test_interaction_latency_from_creation_time():
    from datetime import datetime, timedelta, timezone

    m = Metrics()
    seconds = m.observe_interaction_since(datetime.now(timezone.utc) - timedelta(seconds=1.2), "dream")
    assert 1.2 <= seconds < 5
    s = samples(m)
    assert s[("dreambot_discord_interaction_seconds_bucket", (("command", "dream"), ("le", "1.0")))] == 0
    assert s[("dreambot_discord_interaction_seconds_bucket", (("command", "dream"), ("le", "5.0")))] == 1


def test_worker_restarts_follow_the_executor_count_without_double_counting():
    m = Metrics()
    for total in (0, 1, 1, 3, 2):
        m.sync_worker_restarts(total)
    assert samples(m)[("dreambot_worker_restarts_total", ())] == 3
