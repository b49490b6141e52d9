// Tell the server the viewer's time zone, so it renders times in it. Pages work without this (in UTC).
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  var current = document.cookie.split("; ").find(function (c) { return c.indexOf("tz=") === 0; });
  if (current !== "tz=" + encodeURIComponent(zone)) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  }
})();

// Polling pauses while the tab is hidden: a poll due then is skipped, the next one after it shows runs normally.
// (A filter in hx-trigger would need eval, which the content security policy forbids.)
document.addEventListener("htmx:beforeRequest", function (event) {
  var trigger = event.detail.elt && event.detail.elt.getAttribute("hx-trigger");
  if (document.hidden && trigger && /(^|,)\s*every\s/.test(trigger)) event.preventDefault();
});

// The runs list: a live row swapped in keeps its checkbox; the filters keep the status list open.
document.addEventListener("htmx:oobBeforeSwap", function (event) {
  var old = event.detail.target, fresh = event.detail.fragment;
  if (!old || !fresh || !fresh.querySelector) return;
  var box = old.querySelector("input.runs-select");
  var newBox = fresh.querySelector("input.runs-select");
  if (box && newBox && box.checked) { newBox.checked = true; newBox.setAttribute("checked", ""); }
  var details = old.querySelector("details.filters-status");
  var newDetails = fresh.querySelector("details.filters-status");
  if (details && newDetails && details.open) newDetails.setAttribute("open", "");
});

// "Select every run on this page": shown only with scripts, since only scripts can make it work.
(function () {
  function setUp(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("input.runs-select-all").forEach(function (all) {
      if (all.dataset.ready) return;
      all.dataset.ready = "1";
      all.hidden = false;
      all.addEventListener("change", function () {
        var table = all.closest("table");
        table.querySelectorAll("input.runs-select").forEach(function (box) { box.checked = all.checked; });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt); });
})();

// Requests still in flight when the reader leaves the page are dropped by the browser, and htmx reports each drop
// as a failed request (console errors). Once the page is being left a drop is expected: those are let go quietly.
// (A request that completes after all, e.g. when the link was a download, is handled as usual.)
(function () {
  var inFlight = new Set();
  document.addEventListener("htmx:beforeSend", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr) return;
    inFlight.add(xhr);
    xhr.addEventListener("loadend", function () { inFlight.delete(xhr); });
  });
  function leaving() { inFlight.forEach(function (xhr) { xhr.onabort = null; }); }
  window.addEventListener("beforeunload", leaving);
  window.addEventListener("pagehide", leaving);
})();

// The overview swaps itself whole at every refresh: a disclosure the reader opened stays open.
(function () {
  var open = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "overview") return;
    open = Array.prototype.map.call(target.querySelectorAll("details[id][open]"), function (d) { return d.id; });
  });
  document.addEventListener("htmx:load", function (event) {
    if (!open || !event.detail.elt || event.detail.elt.id !== "overview") return;
    open.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) details.open = true;
    });
    open = null;
  });
})();
