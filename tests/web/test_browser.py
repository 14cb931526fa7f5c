"""The gallery in a real browser (Debian chromium driven by Playwright): pictures load,
paging and sorting work by clicking, the before/after slider moves by mouse and
keyboard, the CSP breaks nothing, phone and desktop layouts fit; screenshots go to
``test-artifacts/``."""

from __future__ import annotations

import os
import re

import pytest
import pytest_asyncio

from tests.web.conftest import CHROMIUM, LONG_GUILD, LONG_NAME, LONG_TITLE, PAGE_SIZE, PUBLIC_GUILD

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"chromium not installed at {CHROMIUM}"),
]


class Tab:
    """A page plus everything the browser complained about (CSP violations, JS errors)."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"{r.status} {r.url}"))

    def check_clean(self):
        assert self.problems == []


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser, served):
    context = await browser.new_context(viewport=DESKTOP, base_url=served.base)
    page = await context.new_page()
    t = Tab(page)
    try:
        yield t
    finally:
        await context.close()


async def wait_images(page):
    """Wait until every <img> finished loading (or failed), then return their natural widths."""
    await page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=10_000)
    return await page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])")


async def grid_ids(page) -> list[int]:
    return [int(x) for x in await page.eval_on_selector_all(".grid a", "as => as.map(a => a.dataset.dreamId)")]


async def test_gallery_grid_loads_pictures_pages_and_sorts(tab, served):
    page, s = tab.page, served.seeded
    resp = await page.goto("/")
    assert resp.status == 200
    await page.click("text=Dream Club")
    await page.wait_for_url(re.compile(rf"/g/{PUBLIC_GUILD}$"))
    widths = await wait_images(page)
    assert len(widths) == PAGE_SIZE
    assert all(w > 0 for _, w in widths), widths
    newest_first = sorted(s.public_entries, reverse=True)
    assert await grid_ids(page) == newest_first[:PAGE_SIZE]

    await page.click("a[rel=next]")
    await page.wait_for_url(re.compile(r"page=2"))
    assert all(w > 0 for _, w in await wait_images(page))
    assert await grid_ids(page) == newest_first[PAGE_SIZE : 2 * PAGE_SIZE]
    await page.click("a[rel=prev]")
    await page.wait_for_url(re.compile(rf"/g/{PUBLIC_GUILD}$"))

    await page.click(".sort >> text=Top")
    await page.wait_for_url(re.compile(r"sort=top"))
    top = sorted(s.public_entries, key=lambda e: (-s.votes[e], -e))
    assert await grid_ids(page) == top[:PAGE_SIZE]
    assert await page.get_attribute(".sort a[aria-current=page]", "href") == f"/g/{PUBLIC_GUILD}?sort=top"
    await page.click("a[rel=next]")
    await page.wait_for_url(re.compile(r"sort=top&page=2"))
    assert await grid_ids(page) == top[PAGE_SIZE : 2 * PAGE_SIZE]
    assert all(w > 0 for _, w in await wait_images(page))
    tab.check_clean()


async def _clip_right(page) -> float:
    """How much of the picture the 'before' layer hides on the right, in percent."""
    clip = await page.eval_on_selector(".compare .before", "e => getComputedStyle(e).clipPath")
    m = re.match(r"inset\(0px ([0-9.]+)(px|%)", clip)
    assert m, clip
    value = float(m.group(1))
    if m.group(2) == "px":
        width = await page.eval_on_selector(".compare", "e => e.getBoundingClientRect().width")
        value = 100 * value / width
    return value


async def test_dream_page_slider_moves_by_drag_and_keyboard(tab, served):
    page, s = tab.page, served.seeded
    resp = await page.goto(f"/d/{s.params_entry}")
    assert resp.status == 200
    widths = dict(await wait_images(page))
    assert all(w > 0 for w in widths.values()), widths
    await page.wait_for_selector(".compare.ready")
    assert await _clip_right(page) == pytest.approx(50, abs=0.5)
    handle = page.locator(".compare .handle")
    assert await handle.get_attribute("aria-valuenow") == "50"

    # drag from the middle to a fifth of the width
    await page.locator(".compare").scroll_into_view_if_needed()
    box = await page.locator(".compare").bounding_box()
    y = box["y"] + box["height"] / 2
    await page.mouse.move(box["x"] + box["width"] * 0.5, y)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.35, y, steps=4)
    await page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=4)
    await page.mouse.up()
    assert await _clip_right(page) == pytest.approx(80, abs=1.5)
    assert await handle.get_attribute("aria-valuenow") == "20"

    # keyboard: the handle took focus; arrows step by 2, shift+arrow by 10, End/Home jump
    assert await page.evaluate("document.activeElement.classList.contains('handle')")
    await page.keyboard.press("ArrowRight")
    assert await handle.get_attribute("aria-valuenow") == "22"
    await page.keyboard.press("Shift+ArrowRight")
    assert await handle.get_attribute("aria-valuenow") == "32"
    assert await _clip_right(page) == pytest.approx(68, abs=1.5)
    await page.keyboard.press("End")
    assert await _clip_right(page) == pytest.approx(0, abs=0.5)
    await page.keyboard.press("Home")
    assert await _clip_right(page) == pytest.approx(100, abs=0.5)
    # the visible split is real: at Home the original is fully hidden, so the middle shows the dream
    tab.check_clean()


async def test_dream_page_shows_command_and_plays_animations(tab, served):
    page, s = tab.page, served.seeded
    await page.goto(f"/d/{s.params_entry}")
    command = await page.inner_text("#command")
    assert command.startswith("/dream layer:mixed4:97 strength:high iterations:17 seed:")
    assert await page.inner_text(".author") == "Alice"

    await page.goto(f"/d/{s.animated_entry}")
    widths = await wait_images(page)
    assert all(w > 0 for _, w in widths), widths
    assert (await page.get_attribute(".dream-media", "src")).startswith(f"/img/{s.animated_entry}/result?v=")

    await page.goto(f"/d/{s.video_entry}")
    video = page.locator("video.dream-media")
    assert (await video.get_attribute("src")).startswith(f"/img/{s.video_entry}/result?v=")
    assert await video.evaluate("v => v.muted && v.loop && v.autoplay")
    if await page.evaluate("document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.42E01E\"')"):
        await page.wait_for_function(
            "() => { const v = document.querySelector('video.dream-media'); return v.readyState >= 2; }",
            timeout=10_000,
        )

    # the evil display name is shown as text, not run
    await page.goto(f"/d/{s.evil_entry}")
    assert "<script>" in await page.inner_text("h1")
    assert await page.evaluate("document.querySelectorAll('main script, main img[src=x]').length") == 0
    tab.check_clean()


async def test_dreamed_clips_play(tab, served):
    """A dreamed GIF and its GIF original load as <img>; a WebM original plays in a <video>
    (served with byte ranges) beside the MP4 result in a <video>."""
    page, s = tab.page, served.seeded
    await page.goto(f"/d/{s.gif_clip_entry}")
    widths = await wait_images(page)
    assert len(widths) >= 2 and all(w > 0 for _, w in widths), widths
    assert await page.get_attribute(".original img", "src") is not None
    assert await page.locator("video").count() == 0

    await page.goto(f"/d/{s.webm_clip_entry}")
    assert await page.locator("video.dream-media").count() == 1
    original = page.locator(".original video")
    assert (await original.get_attribute("src")).startswith(f"/img/{s.webm_clip_entry}/source?v=")
    assert await original.evaluate("v => v.muted && v.loop && v.autoplay")
    assert await page.evaluate("document.createElement('video').canPlayType('video/webm; codecs=\"vp9\"')")
    await page.wait_for_function(  # the WebM plays: its frames advance
        "() => { const v = document.querySelector('.original video'); return v.readyState >= 2 && v.currentTime > 0; }",
        timeout=15_000,
    )
    tab.check_clean()


async def test_hidden_unpublished_and_traversal_are_404_in_the_browser(tab, served):
    page, s = tab.page, served.seeded
    for path in (
        f"/d/{s.hidden_entry}",
        f"/d/{s.unpublished_entry}",
        f"/img/{s.hidden_entry}/result",
        f"/img/{s.unpublished_entry}/thumb",
        "/img/../../etc/passwd",
        "/img/%2e%2e/%2e%2e/etc/passwd",
        "/img/..%2f..%2fetc%2fpasswd",
        "/static/..%2f..%2fsettings.py",
    ):
        resp = await page.goto(path)
        assert resp.status == 404, path
        assert "root:" not in await page.content()
    assert await page.inner_text("h1") == "Not found"


async def test_unpublishing_removes_a_dream_from_the_pages(tab, served):
    """Unpublish through the store while the gallery is up: page and picture vanish at once."""
    from bot.store import Store

    page, s = tab.page, served.seeded
    store: Store = served.store
    d = (await store.get_entry(s.noise_entry)).dream
    victim = await store.publish(d.id, 555, by_user_id=d.user_id, guild_name="Pop-up")
    await store.set_gallery_visibility(555, "public")
    assert (await page.goto(f"/d/{victim.id}")).status == 200
    await page.goto("/g/555")
    thumb = await page.get_attribute(".tile img", "src")
    assert (await page.request.get(thumb)).status == 200
    await store.unpublish(victim.id, by_user_id=d.user_id)
    # pages are revalidated on every visit; pictures are looked up afresh (no browser cache here)
    assert (await page.goto(f"/d/{victim.id}")).status == 404
    assert (await page.request.get(thumb)).status == 404
    assert (await page.request.get(f"/img/{victim.id}/result")).status == 404
    await page.goto("/g/555")
    assert await grid_ids(page) == []
    # a public gallery with nothing to show is not on the front page
    await page.goto("/")
    assert "Pop-up" not in await page.inner_text("main")


@pytest.mark.parametrize("name, viewport", [("phone", PHONE), ("desktop", DESKTOP)])
async def test_layouts_fit_and_screenshots(browser, served, artifacts_dir, name, viewport):
    s = served.seeded
    context = await browser.new_context(
        viewport=viewport, base_url=served.base, device_scale_factor=1,
        is_mobile=name == "phone", has_touch=name == "phone",
    )
    page = await context.new_page()
    tab = Tab(page)
    try:
        for label, path in (("index", "/"), ("gallery", f"/g/{PUBLIC_GUILD}"), ("dream", f"/d/{s.params_entry}")):
            await page.goto(path)
            assert all(w > 0 for _, w in await wait_images(page))
            # nothing sticks out sideways
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (label, name, overflow)
            await page.screenshot(path=str(artifacts_dir / f"{label}-{name}.png"), full_page=True)
        # the grid has 2 columns on a phone and 4 on a desktop
        await page.goto(f"/g/{PUBLIC_GUILD}")
        tops = await page.eval_on_selector_all(".grid .tile", "ts => ts.map(t => t.getBoundingClientRect().top)")
        per_row = sum(1 for t in tops if abs(t - tops[0]) < 1)
        assert per_row == (2 if name == "phone" else 4)
        if name == "phone":  # on a touch screen the slider follows a tap
            await page.goto(f"/d/{s.params_entry}")
            await page.wait_for_selector(".compare.ready")
            box = await page.locator(".compare").bounding_box()
            await page.locator(".compare").scroll_into_view_if_needed()
            box = await page.locator(".compare").bounding_box()
            await page.touchscreen.tap(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
            assert await page.locator(".compare .handle").get_attribute("aria-valuenow") == "75"
        tab.check_clean()
    finally:
        await context.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", [320, 390, 1366])
async def test_no_page_scrolls_sideways_whatever_the_text(browser, served, artifacts_dir, width):
    """Unbroken 100-character titles, author and gallery names, bidi controls: every page
    still fits the window, down to 320 px."""
    s = served.seeded
    context = await browser.new_context(viewport={"width": width, "height": 800}, base_url=served.base,
                                        device_scale_factor=1, is_mobile=width < 600, has_touch=width < 600)
    page = await context.new_page()
    tab = Tab(page)
    try:
        paths = {
            "index": "/",
            "long-gallery": f"/g/{LONG_GUILD}",
            "long-dream": f"/d/{s.long_entry}",
            "bidi-dream": f"/d/{s.bidi_entry}",
            "gallery": f"/g/{PUBLIC_GUILD}",
            "dream": f"/d/{s.params_entry}",
            "evil-dream": f"/d/{s.evil_entry}",
            "noise-dream": f"/d/{s.noise_entry}",
            "error": "/no/such/page",
        }
        for label, path in paths.items():
            await page.goto(path)
            await wait_images(page)
            fits = await page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
            overflow = await page.evaluate("document.scrollingElement.scrollWidth - innerWidth")
            assert fits, (label, width, overflow)
            if label.startswith("long"):
                await page.screenshot(path=str(artifacts_dir / f"hostile-{label}-{width}.png"), full_page=True)
        # the long text is really on the pages (wrapped, not cut)
        await page.goto(f"/d/{s.long_entry}")
        assert (await page.inner_text("h1")).strip() == LONG_TITLE
        assert (await page.inner_text(".author")).strip() == LONG_NAME
        # the 404 page was asked for (its status shows up as a response and a console line)
        tab.problems = [p for p in tab.problems if "/no/such/page" not in p and "status of 404" not in p]
        tab.check_clean()
    finally:
        await context.close()
