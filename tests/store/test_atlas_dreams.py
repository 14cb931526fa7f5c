"""The atlas's store query: public galleries' dreams that targeted a layer or one of its
filters, whatever name the spec used (alias or own name), in mixes too; never another
filter whose number starts the same, another model, an unlisted or closed gallery, a
hidden entry or an opted-out author."""

from __future__ import annotations

from bot.store.atlas_dreams import uses

ALICE, BOB = 1, 2
PUBLIC, PUBLIC2, UNLISTED = 100, 200, 300
LITE0, LAYER = "efficientnet-lite0", "block10"  # mixed4 of lite0


async def _published(store, sample_png, params: dict, guild: int = PUBLIC, user: int = ALICE) -> int:
    src = store.files.put(sample_png)
    d = await store.create_dream(user, params, guild_id=guild, source=src)
    await store.mark_running(d.id)
    res = store.files.put(sample_png + str(d.id).encode(), "png")
    await store.mark_done(d.id, res, width=160, height=107, seconds=0.5)
    return (await store.publish(d.id, guild, by_user_id=user)).id, d.id


async def test_dreams_of_a_filter_and_of_a_layer(store, sample_png):
    await store.set_gallery_visibility(PUBLIC, "public")
    await store.set_gallery_visibility(PUBLIC2, "public")
    await store.set_gallery_visibility(UNLISTED, "unlisted")
    await store.touch_user(BOB, "Bob")
    e = {}
    for name, params in {
        "alias": {"layer": "mixed4:97"},
        "own": {"layer": "block10:97", "strength": "high"},
        "mix": {"layer": "mixed3*0.5+mixed4:97*0.5"},
        "nine": {"layer": "mixed4:9"},
        "whole": {"layer": "mixed4"},
        "default": {"octaves": 1},
        "other_layer": {"layer": "mixed3:7"},
        "googlenet": {"model": "googlenet", "layer": "mixed4:97"},
    }.items():
        e[name] = await _published(store, sample_png, params)
    unlisted, _ = await _published(store, sample_png, {"layer": "mixed4:97"}, guild=UNLISTED)
    hidden, _ = await _published(store, sample_png, {"layer": "mixed4:97"})
    await store.hide_entry(hidden, moderator=True)
    await _published(store, sample_png, {"layer": "mixed4:97"}, user=BOB)
    await store.set_gallery_opt_out(BOB, True)
    # the same dream in a second public gallery is listed once (its newest entry)
    again = await store.publish(e["alias"][1], PUBLIC2, by_user_id=ALICE)

    def ids(items):
        return [item.id for item in items]

    with_filter = await store.public_layer_dreams(LITE0, LAYER, filter=97)
    assert ids(with_filter) == [again.id, e["mix"][0], e["own"][0]]
    assert all(item.dream.model == LITE0 for item in with_filter)
    with_layer = await store.public_layer_dreams(LITE0, LAYER)
    assert ids(with_layer) == [again.id] + [e[k][0] for k in ("default", "whole", "nine", "mix", "own")]
    assert ids(await store.public_layer_dreams(LITE0, LAYER, filter=9)) == [e["nine"][0]]
    assert ids(await store.public_layer_dreams(LITE0, "block5", filter=7)) == [e["other_layer"][0]]
    assert ids(await store.public_layer_dreams("googlenet", "inception4c", filter=97)) == [e["googlenet"][0]]
    assert ids(await store.public_layer_dreams(LITE0, LAYER, filter=97, limit=2)) == [again.id, e["mix"][0]]
    assert await store.public_layer_dreams("nosuchnet", LAYER) == []
    assert await store.public_layer_dreams(LITE0, "nosuchlayer") == []
    assert unlisted not in ids(with_filter + with_layer) and hidden not in ids(with_filter + with_layer)


def test_uses_parses_the_spec_exactly():
    assert uses(LITE0, "mixed4:97", LAYER, 97)
    assert uses(LITE0, "block10:97*2+mixed3", LAYER, 97)
    assert not uses(LITE0, "mixed4:9", LAYER, 97)
    assert not uses(LITE0, "mixed4:970", LAYER, 97)  # out of range: does not parse
    assert uses(LITE0, None, LAYER, None)  # the default layer
    assert not uses(LITE0, "mixed3", LAYER, None)
    assert not uses(LITE0, "not a spec!", LAYER, None)
