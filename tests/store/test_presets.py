"""Presets: validation, uniqueness, limits, lookup order, autocomplete, defaults."""

from __future__ import annotations

import pytest

from bot.store import (
    NotFound,
    PresetExists,
    PresetLimitReached,
    PresetNameInvalid,
    PresetParamsInvalid,
)
from dream_core.params import DreamParams

ALICE, BOB, CAROL = 1, 2, 3


async def test_create_get_update_delete(store):
    p = await store.create_preset(ALICE, "  Soft Dogs  ", {"octaves": 2, "layer": "mixed5"}, owner_name="alice")
    assert p.name == "Soft Dogs" and p.owner_id == ALICE and not p.shared and p.use_count == 0
    assert p.params == DreamParams(octaves=2, layer="mixed5")
    assert p.params_data == {"layer": "mixed5", "octaves": 2}  # only what was set
    assert (await store.get_preset(ALICE, "soft dogs")).id == p.id  # any case, trimmed
    assert (await store.get_preset(ALICE, " SOFT DOGS ")).id == p.id

    q = await store.update_preset(ALICE, "soft dogs", params=DreamParams(strength="high"), shared=True)
    assert q.shared and q.params.strength == "high" and q.params.octaves is None
    assert q.updated_at >= p.updated_at
    r = await store.update_preset(ALICE, "Soft Dogs", new_name="Loud Dogs")
    assert r.name == "Loud Dogs" and r.id == p.id and r.shared
    with pytest.raises(NotFound):
        await store.get_preset(ALICE, "Soft Dogs")

    gone = await store.delete_preset(ALICE, "loud dogs")
    assert gone.id == p.id
    with pytest.raises(NotFound, match="no preset called 'loud dogs'"):
        await store.delete_preset(ALICE, "loud dogs")
    with pytest.raises(NotFound):
        await store.update_preset(ALICE, "loud dogs", shared=False)
    assert await store.count_presets(ALICE) == 0


@pytest.mark.parametrize(
    "name",
    [
        "it's \"quoted\"",
        "Robert'); DROP TABLE presets;--",
        "' OR 1=1 --",
        "100% _wild_ [card]",
        "日本語のプリセット",
        "émoji 🐶‍🔥 👩‍👩‍👧",
        "Ünïcödé ß",
        "x" * 64,
        "back\\slash",
    ],
)
async def test_tricky_names_are_stored_exactly(store, name):
    p = await store.create_preset(ALICE, name, {})
    assert p.name == name
    assert (await store.get_preset(ALICE, name)).name == name
    assert [x.name for x in await store.list_presets(ALICE, name[:3])] == [name]
    assert (await store.count_presets(ALICE)) == 1  # the SQL-looking ones did nothing else


@pytest.mark.parametrize(
    "name,reason",
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("x" * 65, "at most 64"),
        ("y" * 200, "at most 64"),
        ("bad\x00name", "control"),
        ("new\nline", "control"),
        ("bell\x07", "control"),
        ("rtl\u202eoverride", "control"),
        ("zero\u200bwidth", "control"),
        ("\u200d", "visible"),
        (" \u200c\u3000", "visible"),
    ],
)
async def test_bad_names_are_refused_clearly(store, name, reason):
    with pytest.raises(PresetNameInvalid, match=reason):
        await store.create_preset(ALICE, name, {})
    assert await store.count_presets(ALICE) == 0


async def test_bad_params_are_refused(store):
    for bad in ({"octaves": 99}, {"nope": 1}, {"layer": "mixed4c:abc"}, "{not json", {"strength": "max"}):
        with pytest.raises(PresetParamsInvalid, match="Invalid preset parameters"):
            await store.create_preset(ALICE, "p", bad)
    assert await store.count_presets(ALICE) == 0
    await store.create_preset(ALICE, "p", '{"octaves": 3}')  # JSON text is fine
    with pytest.raises(PresetParamsInvalid):
        await store.update_preset(ALICE, "p", params={"octaves": 0})
    assert (await store.get_preset(ALICE, "p")).params.octaves == 3


async def test_names_are_unique_per_owner_ignoring_case(store):
    await store.create_preset(ALICE, "Dogs", {})
    with pytest.raises(PresetExists, match="already have a preset called 'dogs'"):
        await store.create_preset(ALICE, "dogs", {})
    await store.create_preset(BOB, "DOGS", {})  # another owner: fine
    await store.create_preset(ALICE, "Cats", {})
    with pytest.raises(PresetExists):
        await store.update_preset(ALICE, "cats", new_name="DoGs")
    renamed = await store.update_preset(ALICE, "cats", new_name="CATS")  # only the case changes
    assert renamed.name == "CATS"


async def test_preset_limit(store):
    assert store.max_presets_per_user == 5
    for i in range(5):
        await store.create_preset(ALICE, f"p{i}", {})
    with pytest.raises(PresetLimitReached, match="most allowed is 5"):
        await store.create_preset(ALICE, "one more", {})
    await store.create_preset(BOB, "bob's", {})  # the cap is per user
    await store.delete_preset(ALICE, "p0")
    await store.create_preset(ALICE, "one more", {})


async def test_own_first_then_shared(store):
    await store.create_preset(BOB, "Glow", {"octaves": 4}, shared=True)
    await store.create_preset(CAROL, "glow", {"octaves": 5}, shared=True)
    await store.create_preset(CAROL, "secret", {"octaves": 6})
    # Alice has none: the shared ones; the most used wins
    assert (await store.get_preset(ALICE, "glow")).owner_id == BOB  # equal use: oldest
    for _ in range(2):
        await store.use_preset((await store.get_preset(CAROL, "glow")).id)
    assert (await store.get_preset(ALICE, "glow")).owner_id == CAROL
    # her own one shadows every shared one
    await store.create_preset(ALICE, "GLOW", {"octaves": 1})
    assert (await store.get_preset(ALICE, "glow")).params.octaves == 1
    with pytest.raises(NotFound):  # not shared: invisible to others
        await store.get_preset(ALICE, "secret")
    with pytest.raises(NotFound):
        await store.get_preset_by_id((await store.get_preset(CAROL, "secret")).id, user_id=ALICE)


async def test_autocomplete(store):
    for name in ("Sunset", "sunrise", "Moon", "50% off", "a_b"):
        await store.create_preset(ALICE, name, {})
    await store.create_preset(BOB, "Sunny", {}, shared=True)
    await store.create_preset(BOB, "sunset", {}, shared=True)  # same name as Alice's own
    await store.create_preset(BOB, "Sundown", {})  # private
    names = [p.name for p in await store.list_presets(ALICE, "sun")]
    assert names == ["sunrise", "Sunset", "Sunny"]  # own (by name), then shared, no duplicates
    assert [p.name for p in await store.list_presets(ALICE, "SUN", include_shared=False)] == ["sunrise", "Sunset"]
    assert [p.name for p in await store.list_presets(ALICE, "50%")] == ["50% off"]
    assert [p.name for p in await store.list_presets(ALICE, "%")] == []  # wildcards are literal
    assert [p.name for p in await store.list_presets(ALICE, "a_")] == ["a_b"]
    assert [p.name for p in await store.list_presets(ALICE, "_")] == []
    assert len(await store.list_presets(ALICE)) == 6
    assert len(await store.list_presets(ALICE, limit=2)) == 2
    assert [p.name for p in await store.list_presets(CAROL, "s")] == ["Sunny", "sunset"]


async def test_use_count(store):
    p = await store.create_preset(ALICE, "p", {}, shared=True)
    assert await store.use_preset(p.id) == 1
    assert await store.use_preset(p.id) == 2
    assert (await store.get_preset(BOB, "p")).use_count == 2
    with pytest.raises(NotFound):
        await store.use_preset(999_999)


async def test_default_preset(store):
    assert await store.get_default_preset(ALICE) is None
    with pytest.raises(NotFound):
        await store.set_default_preset(ALICE, "nothing")
    mine = await store.create_preset(ALICE, "mine", {"octaves": 2})
    theirs = await store.create_preset(BOB, "theirs", {"octaves": 3}, shared=True)
    assert (await store.set_default_preset(ALICE, "MINE")).id == mine.id
    assert (await store.get_default_preset(ALICE)).id == mine.id
    assert (await store.get_user(ALICE)).default_preset_id == mine.id
    assert (await store.set_default_preset(ALICE, "theirs")).id == theirs.id
    # Bob stops sharing: Alice's default no longer resolves
    await store.update_preset(BOB, "theirs", shared=False)
    assert await store.get_default_preset(ALICE) is None
    await store.update_preset(BOB, "theirs", shared=True)
    assert (await store.get_default_preset(ALICE)).id == theirs.id
    # Bob deletes it: cleared
    await store.delete_preset(BOB, "theirs")
    assert (await store.get_user(ALICE)).default_preset_id is None
    await store.set_default_preset(ALICE, "mine")
    assert await store.set_default_preset(ALICE, None) is None
    assert await store.get_default_preset(ALICE) is None
