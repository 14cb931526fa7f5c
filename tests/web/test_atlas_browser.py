"""The atlas in a real browser (Debian chromium driven by Playwright): the list of layers,
a layer's grid that shows placeholders and fills in as renders land in the cache (put
there by a build, or ordered from the renderer inside the bot), a filter's page with its
/dream line and the gallery's dreams, links both ways, phones without sideways scrolling,
the CSP breaking nothing; screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.web.atlas_images import GRID_SIZE, LARGE_SIZE
from tests.web.atlas_support import LAYER, MODEL, put
from tests.web.conftest import CHROMIUM
from tests.web.test_browser import DESKTOP, PHONE, Tab, wait_images

pytestmark = [
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"chromium not installed at {CHROMIUM}"),
]


async def open_tab(browser, base, viewport=DESKTOP, **kw):
    context = await browser.new_context(viewport=viewport, base_url=base, device_scale_factor=1, **kw)
    return context, Tab(await context.new_page())


async def filled(page) -> list[int]:
    """The filters of the grid that show a loaded picture."""
    return await page.eval_on_selector_all(
        ".atlas-cell img", "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0)"
                           ".map(i => +i.closest('.atlas-cell').dataset.filter)")


async def test_atlas_lists_layers_and_a_layer_fills_in_after_a_build(browser, standalone):
    context, tab = await open_tab(browser, standalone.base)
    page = tab.page
    try:
        resp = await page.goto("/atlas")
        assert resp.status == 200
        assert resp.headers["x-frame-options"] == "DENY" and "script-src 'self'" in resp.headers[
            "content-security-policy"]
        assert await page.locator(f"#{MODEL} .atlas-layers li").count() == 18
        await page.click(f"#{MODEL} a[data-layer={LAYER}]")
        await page.wait_for_url(re.compile(rf"/atlas/{MODEL}/{LAYER}$"))
        assert await page.locator(".atlas-cell").count() == 112
        assert await page.locator(".atlas-cell[data-pending] .atlas-placeholder").count() == 112
        assert "dreambot atlas build" in await page.inner_text("#not-rendered")
        assert await filled(page) == []
        # a build renders the first two pages meanwhile: the page fills in without a reload
        await asyncio.to_thread(put, standalone.cache, LAYER, range(32), GRID_SIZE)
        await page.wait_for_function("() => document.querySelectorAll('.atlas-cell img').length >= 32", timeout=15_000)
        await wait_images(page)
        assert sorted(await filled(page)) == list(range(32))
        assert await page.locator(".atlas-cell[data-pending]").count() == 112 - 32
        tab.check_clean()
    finally:
        await context.close()


async def test_inside_the_bot_the_grid_and_the_filter_render_on_their_own(browser, in_bot):
    context, tab = await open_tab(browser, in_bot.base)
    page = tab.page
    try:
        await page.goto(f"/atlas/{MODEL}/block12")
        assert await page.locator("#not-rendered").count() == 0  # renders are on their way
        assert await page.inner_text(".atlas-cell[data-filter='0'] .atlas-placeholder") == "rendering…"
        await page.wait_for_function("() => document.querySelectorAll('.atlas-cell img').length >= 16", timeout=15_000)
        widths = await wait_images(page)
        # the first page on screen is ordered (and filled) first
        assert in_bot.renderer.orders[0].filters == tuple(range(16))
        assert set(range(16)) <= set(await filled(page)), (widths, tab.problems, in_bot.renderer.orders)
        # only the pages on screen were ordered, each once
        ordered = [n for o in in_bot.renderer.orders for n in o.filters]
        assert len(ordered) == len(set(ordered)) and len(ordered) < 192

        await page.click(".atlas-cell[data-filter='3'] a")
        await page.wait_for_url(re.compile(rf"/atlas/{MODEL}/block12/3$"))
        await page.wait_for_function(
            "() => document.querySelector('.atlas-filter:not([data-pending])') && "
            "document.querySelectorAll('.atlas-variants img').length >= 1", timeout=15_000)
        widths = await wait_images(page)
        main = f"/atlas/{MODEL}/block12/3/{LARGE_SIZE}-0.png"
        assert any(src.startswith(main) and w == LARGE_SIZE for src, w in widths), widths
        assert await page.locator(".atlas-variants img").count() == in_bot.renderer.orders[-1].diversity - 1
        tab.check_clean()
    finally:
        await context.close()


async def test_filter_and_gallery_dream_link_both_ways(browser, standalone, served):
    entry = served.seeded.params_entry  # published in a public gallery with layer mixed4:97
    context, tab = await open_tab(browser, standalone.base)
    page = tab.page
    try:
        await page.goto(f"/atlas/{MODEL}/{LAYER}/97")
        assert await page.inner_text("#dream-line") == "/dream layer:mixed4:97"
        await page.click(f".atlas-dreams a[data-dream-id='{entry}']")
        await page.wait_for_url(re.compile(rf"/d/{entry}$"))
        assert (await page.inner_text("#command")).startswith("/dream layer:mixed4:97")
        await page.click("text=mixed4 filter 97")
        await page.wait_for_url(re.compile(rf"/atlas/{MODEL}/{LAYER}/97$"))
        await page.click("a[rel=next]")
        await page.wait_for_url(re.compile(rf"/atlas/{MODEL}/{LAYER}/98$"))
        assert "No published dream used this filter yet" in await page.inner_text(".atlas-dreams")
        await wait_images(page)
        tab.check_clean()
    finally:
        await context.close()


@pytest.mark.parametrize("name, viewport", [("phone", PHONE), ("small", {"width": 320, "height": 640}),
                                            ("desktop", DESKTOP)])
async def test_atlas_pages_fit_phones_and_screenshots(browser, standalone, served, artifacts_dir, name, viewport):
    phone = name != "desktop"
    context, tab = await open_tab(browser, standalone.base, viewport, is_mobile=phone, has_touch=phone)
    page = tab.page
    try:
        await asyncio.to_thread(put, standalone.cache, "block5", range(16), GRID_SIZE)
        for label, path in (
            ("atlas", "/atlas"),
            ("atlas-layer", f"/atlas/{MODEL}/block5"),
            ("atlas-layer-wide", "/atlas/resnet50/layer4.2"),
            ("atlas-filter", f"/atlas/{MODEL}/{LAYER}/97"),
            ("atlas-filter-empty", f"/atlas/{MODEL}/block5/3"),
            ("atlas-404", f"/atlas/{MODEL}/mixed9"),
        ):
            resp = await page.goto(path)
            assert resp.status == (404 if label == "atlas-404" else 200), label
            await wait_images(page)
            overflow = await page.evaluate("document.scrollingElement.scrollWidth - innerWidth")
            assert overflow <= 0, (label, name, overflow)
            shot = artifacts_dir / f"{label}-{name}.png"
            await page.screenshot(path=str(shot), full_page=label != "atlas-layer-wide")
        assert "unknown layer 'mixed9'" in await page.inner_text("main")
        tab.problems = [p for p in tab.problems if "mixed9" not in p and "status of 404" not in p]
        tab.check_clean()
    finally:
        await context.close()
