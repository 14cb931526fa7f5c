"""Dreams through their life, history paging and crash recovery."""

from __future__ import annotations

import pytest

from bot.store import DreamStatus, InvalidTransition, NotAllowed, NotFound, StoreError
from dream_core.params import DreamParams

ALICE, BOB = 1, 2


async def test_life_of_a_dream(store, sample_png):
    src = store.files.put(sample_png)
    d = await store.create_dream(
        ALICE,
        DreamParams(octaves=2, seed=7),
        guild_id=100,
        channel_id=200,
        message_id=300,
        source=src,
        source_url="https://cdn.example/a.png",
        user_name="alice",
        guild_name="Dream Club",
    )
    assert d.status is DreamStatus.QUEUED and d.started_at is None and d.finished_at is None
    assert (d.user_id, d.guild_id, d.channel_id, d.message_id) == (ALICE, 100, 200, 300)
    assert d.source == src and d.source_url == "https://cdn.example/a.png"
    assert d.model == "efficientnet-lite0" and d.seed == 7 and d.params.octaves == 2
    assert (await store.get_user(ALICE)).display_name == "alice"
    assert (await store.get_guild(100)).name == "Dream Club"

    r = await store.mark_running(d.id)
    assert r.status is DreamStatus.RUNNING and r.started_at is not None

    result = store.files.put(b"\x89PNG\r\n\x1a\n" + b"result")
    resolved = DreamParams(octaves=2, seed=7).resolved()
    done = await store.mark_done(
        d.id, result, width=160, height=107, seconds=1.25, params=resolved, is_animation=False
    )
    assert done.status is DreamStatus.DONE and done.result == result
    assert (done.width, done.height, done.size_bytes, done.seconds) == (160, 107, result.size, 1.25)
    assert done.finished_at >= done.started_at >= done.created_at
    # what was set (and the seed) is stored; the strength preset's fill-ins are not
    assert done.params_data == {"octaves": 2, "seed": 7}
    assert done.params.resolved() == resolved
    assert done.error is None

    m = await store.set_dream_messages(d.id, result_message_id=301)
    assert m.result_message_id == 301 and m.message_id == 300
    assert await store.get_dream(d.id) == m


async def test_failed_cancelled_and_invalid_transitions(store):
    a = await store.create_dream(ALICE, {})
    f = await store.mark_failed(a.id, "the image was too small")
    assert f.status is DreamStatus.FAILED and f.error == "the image was too small" and f.finished_at
    b = await store.create_dream(ALICE, {})
    await store.mark_running(b.id)
    c = await store.mark_cancelled(b.id, "cancelled by alice")
    assert c.status is DreamStatus.CANCELLED and c.error == "cancelled by alice"
    ref = store.files.put(b"x")
    for call in (
        store.mark_running(a.id),
        store.mark_done(a.id, ref, width=1, height=1, seconds=0),
        store.mark_failed(b.id, "again"),
        store.mark_cancelled(a.id),
    ):
        with pytest.raises(InvalidTransition, match="already"):
            await call
    assert (await store.get_dream(a.id)).status is DreamStatus.FAILED
    long = await store.create_dream(ALICE, {})
    assert len((await store.mark_failed(long.id, "e" * 5000)).error) <= 1000


async def test_unknown_dream_and_bad_params(store):
    with pytest.raises(NotFound, match="dream was not found"):
        await store.get_dream(12345)
    with pytest.raises(NotFound):
        await store.mark_running(12345)
    with pytest.raises(StoreError, match="Invalid dream parameters"):
        await store.create_dream(ALICE, {"octaves": -1})


async def test_history_is_paged_newest_first(store):
    ids = [(await store.create_dream(ALICE, {"seed": i})).id for i in range(7)]
    await store.create_dream(BOB, {})
    await store.mark_failed(ids[0], "x")
    p0 = await store.list_history(ALICE, page_size=3)
    assert [d.id for d in p0.items] == ids[::-1][:3]
    assert (p0.total, p0.pages, p0.has_next, p0.has_prev) == (7, 3, True, False)
    p2 = await store.list_history(ALICE, page=2, page_size=3)
    assert [d.id for d in p2.items] == [ids[0]] and not p2.has_next and p2.has_prev
    assert (await store.list_history(ALICE, page=9, page_size=3)).items == []
    failed = await store.list_history(ALICE, statuses=["failed"])
    assert [d.id for d in failed.items] == [ids[0]] and failed.total == 1
    assert (await store.list_history(999)).total == 0


async def test_delete_dream(store, finished_dream):
    d = await finished_dream(ALICE, 100)
    twin = await finished_dream(BOB, 100)  # same input bytes as d
    entry = await store.publish(d.id, 100, by_user_id=ALICE)
    await store.vote(entry.id, BOB)
    with pytest.raises(NotAllowed, match="Only the dream's author"):
        await store.delete_dream(d.id, by_user_id=BOB)
    running = await store.create_dream(ALICE, {})
    with pytest.raises(InvalidTransition, match="cancel it first"):
        await store.delete_dream(running.id)
    report = await store.delete_dream(d.id, by_user_id=ALICE)
    assert (report.dreams, report.gallery_entries, report.votes, report.files) == (1, 1, 1, 1)
    with pytest.raises(NotFound):
        await store.get_dream(d.id)
    with pytest.raises(NotFound):
        await store.get_entry(entry.id, include_hidden=True)
    assert not store.files.exists(d.result.sha256)
    assert store.files.exists(d.source.sha256) and d.source == twin.source  # Bob's dream uses it
    assert (await store.get_dream(twin.id)).status is DreamStatus.DONE
    with pytest.raises(NotFound):
        await store.delete_dream(d.id)


async def test_ping(db_path, tmp_path):
    """ping() answers on a live database and raises DatabaseError once the file is no database."""
    from bot.store import Database, DatabaseError, FileStore, Store
    from tests.store.conftest import sqlite_url

    store = Store(Database(sqlite_url(db_path)), FileStore(tmp_path / "files"))
    try:
        assert await store.ping() is None
        await store.db.dispose()  # no open connection keeps the old file
        for leftover in db_path.parent.glob(db_path.name + "-*"):  # WAL and shared-memory files
            leftover.unlink()
        db_path.write_bytes(b"not a database " * 512)
        with pytest.raises(DatabaseError, match="does not answer"):
            await store.ping()
    finally:
        await store.close()


async def test_guide_image_is_recorded_and_its_file_kept_while_used(store, sample_png, sample_image):
    import io

    buf = io.BytesIO()
    sample_image.rotate(180).save(buf, format="PNG")
    guide = store.files.put(buf.getvalue())
    src = store.files.put(sample_png)
    d = await store.create_dream(ALICE, {}, source=src, guide=guide)
    assert d.guide == guide and d.source == src
    assert (await store.get_dream(d.id)).guide == guide
    assert (await store.create_dream(ALICE, {})).guide is None
    done = await store.mark_done(d.id, store.files.put(b"r1"), width=1, height=1, seconds=0.1)
    assert done.guide == guide  # finishing keeps it
    # "Dream again": a second dream with the same guide
    again = await store.create_dream(BOB, {}, source=src, guide=done.guide)
    await store.mark_done(again.id, store.files.put(b"r2"), width=1, height=1, seconds=0.1)

    # a guide is a referenced file: garbage collection keeps it
    import os
    import time

    old = time.time() - 7200
    os.utime(store.files.path_for(guide.sha256), (old, old))
    await store.collect_garbage(min_age_s=3600)
    assert store.files.exists(guide.sha256)

    # deleting one dream keeps the guide the other still uses; the last one takes it along
    await store.delete_dream(d.id)
    assert store.files.exists(guide.sha256)
    report = await store.delete_dream(again.id)
    assert not store.files.exists(guide.sha256)
    assert report.files == 3  # r2, the guide and (now unused) the input
    assert not store.files.exists(src.sha256)


async def test_delete_user_data_takes_their_guides(store, sample_png):
    guide = store.files.put(b"\x89PNG\r\n\x1a\n" + b"guide of alice")
    shared_guide = store.files.put(b"\x89PNG\r\n\x1a\n" + b"guide both use")
    await store.create_dream(ALICE, {}, guide=guide)
    a = await store.create_dream(ALICE, {}, guide=shared_guide)
    b = await store.create_dream(BOB, {}, guide=shared_guide)
    for d in (a, b):
        await store.mark_failed(d.id, "x")
    report = await store.delete_user_data(ALICE)
    assert report.dreams == 2 and report.files == 1
    assert not store.files.exists(guide.sha256)
    assert store.files.exists(shared_guide.sha256) and (await store.get_dream(b.id)).guide == shared_guide
