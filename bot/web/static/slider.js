// Before/after slider of the dream page. Plain JavaScript, no framework.
// The split is the CSS variable --pos on each .compare element; its .handle is
// an ARIA slider (focusable, arrow keys / Home / End / PageUp / PageDown), and
// pressing or dragging anywhere on the picture moves the split there.
(function () {
  "use strict";

  function clamp(value) {
    return Math.min(100, Math.max(0, value));
  }

  function setup(box) {
    var handle = box.querySelector(".handle");
    if (!handle) {
      return;
    }
    var pos = clamp(parseFloat(box.getAttribute("data-start")) || 50);

    function render() {
      box.style.setProperty("--pos", pos + "%");
      handle.setAttribute("aria-valuenow", String(Math.round(pos)));
      handle.setAttribute("aria-valuetext", Math.round(pos) + "% original");
    }

    function moveTo(clientX) {
      var rect = box.getBoundingClientRect();
      if (rect.width > 0) {
        pos = clamp(((clientX - rect.left) / rect.width) * 100);
        render();
      }
    }

    var dragging = null;
    box.addEventListener("pointerdown", function (ev) {
      if (ev.button !== undefined && ev.button !== 0) {
        return;
      }
      dragging = ev.pointerId;
      if (box.setPointerCapture) {
        box.setPointerCapture(ev.pointerId);
      }
      moveTo(ev.clientX);
      handle.focus({ preventScroll: true });
      ev.preventDefault();
    });
    box.addEventListener("pointermove", function (ev) {
      if (dragging === ev.pointerId) {
        moveTo(ev.clientX);
      }
    });
    function stop(ev) {
      if (dragging === ev.pointerId) {
        dragging = null;
      }
    }
    box.addEventListener("pointerup", stop);
    box.addEventListener("pointercancel", stop);

    handle.addEventListener("keydown", function (ev) {
      var step = ev.shiftKey ? 10 : 2;
      var next = pos;
      switch (ev.key) {
        case "ArrowLeft":
        case "ArrowDown":
          next = pos - step;
          break;
        case "ArrowRight":
        case "ArrowUp":
          next = pos + step;
          break;
        case "PageDown":
          next = pos - 10;
          break;
        case "PageUp":
          next = pos + 10;
          break;
        case "Home":
          next = 0;
          break;
        case "End":
          next = 100;
          break;
        default:
          return;
      }
      ev.preventDefault();
      pos = clamp(next);
      render();
    });

    box.classList.add("ready");
    render();
  }

  function init() {
    var boxes = document.querySelectorAll(".compare");
    for (var i = 0; i < boxes.length; i++) {
      setup(boxes[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
