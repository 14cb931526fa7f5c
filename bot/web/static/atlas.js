// The atlas fills in: placeholders of filters not rendered yet are replaced by their
// pictures as the renders land in the cache (the page's status endpoint says which, and
// orders the missing ones when the site runs inside the bot). Only the pages of 16
// filters that are on screen are asked for.
(function () {
  "use strict";

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : null;
    });
  }

  function image(src, alt, size) {
    var img = document.createElement("img");
    img.src = src;
    img.alt = alt;
    img.width = size;
    img.height = size;
    img.decoding = "async";
    return img;
  }

  // ---------------------------------------------------------------- a layer's grid
  var grid = document.querySelector(".atlas-grid[data-status-url]");
  if (grid) {
    var statusUrl = grid.dataset.statusUrl;
    var perPage = parseInt(grid.dataset.perPage, 10) || 16;
    var pollMs = parseInt(grid.dataset.pollMs, 10) || 2000;
    var visible = new Set(); // pages (1-based) with a pending cell on screen
    var cells = {};
    grid.querySelectorAll(".atlas-cell[data-pending]").forEach(function (cell) {
      cells[cell.dataset.filter] = cell;
    });
    var pageOf = function (cell) { return Math.floor(parseInt(cell.dataset.filter, 10) / perPage) + 1; };
    var pending = function (page) {
      for (var n = (page - 1) * perPage; n < page * perPage; n++) {
        if (cells[n]) return true;
      }
      return false;
    };
    var fill = function (n, src) {
      var cell = cells[n];
      if (!cell) return;
      var ph = cell.querySelector(".atlas-placeholder");
      var img = image(src, "Filter " + n, 128);
      if (ph) ph.replaceWith(img); else cell.querySelector("a").prepend(img);
      cell.removeAttribute("data-pending");
      delete cells[n];
    };
    if ("IntersectionObserver" in window) {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (e.isIntersecting) visible.add(pageOf(e.target));
        });
      }, { rootMargin: "200px" });
      Object.keys(cells).forEach(function (n) { seen.observe(cells[n]); });
    } else {
      Object.keys(cells).forEach(function (n) { visible.add(pageOf(cells[n])); });
    }
    var ask = function (page) {
      return getJSON(statusUrl + "?page=" + page).then(function (s) {
        if (!s) return;
        Object.keys(s.images).forEach(function (n) { fill(n, s.images[n]); });
        if (s.failed) {
          s.missing.forEach(function (n) {
            var ph = cells[n] && cells[n].querySelector(".atlas-placeholder");
            if (ph) ph.textContent = "render failed, retrying soon";
          });
        }
      });
    };
    var poll = function () {
      visible.forEach(function (p) { if (!pending(p)) visible.delete(p); });
      if (!Object.keys(cells).length) return; // all filled: stop
      // the pages on screen, top first, one after the other: renders are ordered in reading order
      var pages = Array.from(visible).sort(function (a, b) { return a - b; }).slice(0, 4);
      pages.reduce(function (done, page) {
        return done.then(function () { return ask(page); });
      }, Promise.resolve()).catch(function () {}).then(function () { setTimeout(poll, pollMs); });
    };
    setTimeout(poll, 50);
  }

  // ---------------------------------------------------------------- one filter
  var filter = document.querySelector(".atlas-filter[data-status-url][data-pending]");
  if (filter) {
    var url = filter.dataset.statusUrl;
    var every = parseInt(filter.dataset.pollMs, 10) || 2000;
    var hero = filter.querySelector(".atlas-hero");
    var variants = filter.querySelector(".atlas-variants");
    var shown = new Set(Array.from(variants.querySelectorAll("img")).map(function (i) { return i.getAttribute("src"); }));
    var show = function (s) {
      var src = s.main || s.grid;
      var main = hero.querySelector("img.atlas-main");
      if (src && (!main || main.getAttribute("src") !== src)) {
        var img = image(src, "What this filter sees", 224);
        img.className = "atlas-main";
        hero.replaceChildren(img);
      }
      s.variants.forEach(function (v) {
        if (shown.has(v)) return;
        shown.add(v);
        var li = document.createElement("li");
        li.appendChild(image(v, "Another view of this filter", 224));
        variants.appendChild(li);
        var empty = filter.querySelector(".atlas-variants-empty");
        if (empty) empty.hidden = true;
      });
      return Boolean(s.main) && !s.rendering;
    };
    var check = function () {
      getJSON(url).then(function (s) {
        if (s && show(s)) {
          filter.removeAttribute("data-pending");
          return;
        }
        setTimeout(check, s && !s.renderer ? every * 3 : every);
      }).catch(function () { setTimeout(check, every * 2); });
    };
    setTimeout(check, 50);
  }
})();
