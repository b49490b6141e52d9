// The run page swaps its steps in anew every 2 s while the run is active. A reader who opened a step's
// details should not see them snap shut: remember which were open before a swap and open them again after.
(function () {
  var open = [];
  document.addEventListener("htmx:beforeSwap", function () {
    open = Array.prototype.map.call(document.querySelectorAll("details[open][id]"), function (d) { return d.id; });
  });
  document.addEventListener("htmx:afterSwap", function () {
    open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details && details.tagName === "DETAILS") details.open = true;
    });
  });
})();

// Zoom and pan of the step graph, by its viewBox. The graph is two drawings, one over the other: the statuses
// (#graph-status, swapped anew by its poll) under the structure (svg.graph, drawn once). Both get the same size
// and the same viewBox, so the boxes stay over their fills. The drawing takes the frame's width and shows the
// graph fitted to that width (never above its natural size), as tall as that makes it up to twice the window's
// height; a taller graph shows its top part, and "Fit" shows it whole.
// Sizes are set as SVG attributes, not style: the content security policy allows no inline style.
(function () {
  var MAX_ZOOM = 8;  // times the natural size
  var STEP = 1.25;  // one click of a button, or one notch of a wheel
  var DRAG_THRESHOLD = 4;  // px a pointer moves before a press is a drag and not a click

  function Graph(frame) {
    this.frame = frame;
    this.svg = frame.querySelector("svg.graph");
    var box = this.svg.viewBox.baseVal;
    this.full = { w: box.width, h: box.height };  // the graph, in the drawing's units
    this.view = null;  // what the viewBox shows, in the drawing's units; null: the graph fitted to the width
    this.size = { w: box.width, h: box.height };  // the drawing's size on the page, in px
    this.widthScale = 1;  // px per unit with the graph's width fitted to the frame's
    this.fitScale = 1;  // px per unit with the whole graph in the drawing
    frame.classList.add("is-zoomable");
    var zoom = frame.querySelector(".graph-zoom");
    if (zoom) zoom.hidden = false;
    this.layout();
    this.bind();
  }

  Graph.prototype.layout = function () {
    var room = Math.max(1, this.frame.clientWidth);
    var tallest = Math.max(320, 2 * window.innerHeight);
    this.widthScale = Math.min(1, room / this.full.w);
    this.size = { w: room, h: Math.max(1, Math.min(tallest, Math.round(this.full.h * this.widthScale))) };
    this.fitScale = Math.min(this.widthScale, this.size.h / this.full.h);
    this.svg.setAttribute("width", this.size.w);
    this.svg.setAttribute("height", this.size.h);
    if (this.view) this.view = this.clamp(this.view);
    this.apply();
  };

  // A view from the top left corner at ``scale`` px per unit; its shape is the drawing's.
  Graph.prototype.at = function (scale) {
    return { x: 0, y: 0, w: this.size.w / scale, h: this.size.h / scale };
  };

  // The whole graph: the most a reader can zoom out.
  Graph.prototype.fitted = function () {
    return this.at(this.fitScale);
  };

  Graph.prototype.current = function () {
    return this.view || this.at(this.widthScale);
  };

  // Keep the view on the graph, between the whole graph and MAX_ZOOM times the graph's natural size.
  Graph.prototype.clamp = function (v) {
    var fit = this.fitted();
    var w = Math.min(fit.w, Math.max(this.size.w / MAX_ZOOM, v.w));
    var h = w * fit.h / fit.w;
    var x = Math.min(Math.max(v.x, 0), Math.max(0, this.full.w - w));
    var y = Math.min(Math.max(v.y, 0), Math.max(0, this.full.h - h));
    return { x: x, y: y, w: w, h: h };
  };

  Graph.prototype.apply = function () {
    var v = this.current();
    var value = [v.x, v.y, v.w, v.h].map(function (n) { return Math.round(n * 10) / 10; }).join(" ");
    this.svg.setAttribute("viewBox", value);
    var status = this.frame.querySelector(".graph-status-svg");
    if (status) {
      status.setAttribute("viewBox", value);
      status.setAttribute("width", this.size.w);
      status.setAttribute("height", this.size.h);
    }
    this.frame.dataset.zoom = (this.fitted().w / v.w).toFixed(2);
  };

  // Zoom by ``factor`` (above 1: in) about a point given in px from the drawing's top left corner.
  Graph.prototype.zoom = function (factor, px, py) {
    var v = this.current();
    if (px === undefined) { px = this.size.w / 2; py = this.size.h / 2; }
    var gx = v.x + px * v.w / this.size.w;
    var gy = v.y + py * v.h / this.size.h;
    var w = v.w / factor;
    var next = this.clamp({ x: gx - (gx - v.x) / factor, y: gy - (gy - v.y) / factor, w: w, h: w * v.h / v.w });
    this.view = next;
    this.apply();
  };

  Graph.prototype.fit = function () {
    this.view = this.fitted();
    this.apply();
  };

  Graph.prototype.bind = function () {
    var self = this;
    var frame = this.frame;
    frame.addEventListener("click", function (event) {
      var button = event.target.closest("[data-zoom]");
      if (!button) return;
      var what = button.getAttribute("data-zoom");
      if (what === "in") self.zoom(STEP);
      else if (what === "out") self.zoom(1 / STEP);
      else self.fit();
    });
    frame.addEventListener("keydown", function (event) {
      if (event.target.closest("input, textarea, select")) return;
      if (event.key === "+" || event.key === "=") self.zoom(STEP);
      else if (event.key === "-") self.zoom(1 / STEP);
      else if (event.key === "0") self.fit();
      else return;
      event.preventDefault();
    });
    // The wheel zooms once the reader has clicked into the graph (or holds Ctrl, as a trackpad's pinch does);
    // until then it scrolls the page, so that scrolling past a large graph never gets caught in it.
    this.svg.addEventListener("wheel", function (event) {
      if (!(event.ctrlKey || event.metaKey || frame.contains(document.activeElement))) return;
      event.preventDefault();
      var rect = self.svg.getBoundingClientRect();
      var notches = Math.max(-3, Math.min(3, -event.deltaY / 100));
      self.zoom(Math.pow(STEP, notches), event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });

    var press = null;
    this.svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      frame.focus({ preventScroll: true });
      press = { id: event.pointerId, x: event.clientX, y: event.clientY, view: self.current(), dragging: false };
    });
    this.svg.addEventListener("pointermove", function (event) {
      if (!press || event.pointerId !== press.id) return;
      var dx = event.clientX - press.x;
      var dy = event.clientY - press.y;
      if (!press.dragging) {
        if (Math.abs(dx) < DRAG_THRESHOLD && Math.abs(dy) < DRAG_THRESHOLD) return;
        press.dragging = true;
        self.svg.setPointerCapture(event.pointerId);
        frame.classList.add("is-dragging");
      }
      var v = press.view;
      var next = self.clamp({
        x: v.x - dx * v.w / self.size.w, y: v.y - dy * v.h / self.size.h, w: v.w, h: v.h
      });
      self.view = next;
      self.apply();
    });
    function release(event) {
      if (!press || event.pointerId !== press.id) return;
      if (press.dragging) {
        frame.classList.remove("is-dragging");
        // The click that ends a drag (dispatched right after this) must not open the step under the pointer.
        var swallow = function (click) {
          click.preventDefault();
          click.stopPropagation();
        };
        self.svg.addEventListener("click", swallow, true);
        setTimeout(function () { self.svg.removeEventListener("click", swallow, true); }, 0);
      }
      press = null;
    }
    this.svg.addEventListener("pointerup", release);
    this.svg.addEventListener("pointercancel", function (event) {
      frame.classList.remove("is-dragging");
      if (press && event.pointerId === press.id) press = null;
    });

    var width = frame.clientWidth;
    window.addEventListener("resize", function () {
      if (frame.clientWidth === width) return;
      width = frame.clientWidth;
      self.layout();
    });
    // The status overlay's poll brings a new drawing at the whole graph's viewBox: give it the current one.
    document.addEventListener("htmx:afterSettle", function () { self.apply(); });
  };

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".graph-frame"), function (frame) {
      if (frame.querySelector("svg.graph")) new Graph(frame);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
