// A step's log page: keep the page's copy of the log bounded, follow the live tail, make line links shareable.
// The page works without this file: "earlier"/"later" are plain links and line numbers link to ?line=N#LN.
(function () {
  "use strict";
  var MAX_BYTES = 4 * 1024 * 1024; // of log kept in the page; past it, the windows farthest from the new one go
  var log = document.getElementById("log");
  if (!log) return;
  var base = log.getAttribute("data-log-url");
  var carry = log.getAttribute("data-carry");

  function url(param, value) {
    return base + "?" + param + "=" + value + (carry ? "&" + carry : "");
  }

  function chunks() {
    return Array.prototype.slice.call(log.querySelectorAll(":scope > .log-chunk"));
  }

  function size(chunk) {
    return Number(chunk.getAttribute("data-end")) - Number(chunk.getAttribute("data-start"));
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function moreLink(cls, text, href) {
    var a = document.createElement("a");
    a.className = cls;
    a.href = href;
    a.setAttribute("hx-get", href);
    a.setAttribute("hx-swap", "outerHTML");
    a.textContent = text;
    return a;
  }

  // Drop whole windows from the end away from the one just added, and leave a link to load them again.
  function cap(direction) {
    var max = Number(log.getAttribute("data-max-bytes")) || MAX_BYTES;
    var list = chunks();
    var total = list.reduce(function (n, c) { return n + size(c); }, 0);
    if (total <= max || list.length < 2) return;
    var link;
    if (direction === "down") {
      var height = log.scrollHeight;
      var top = log.scrollTop;
      while (total > max && list.length > 1) {
        var first = list.shift();
        total -= size(first);
        first.remove();
      }
      log.querySelectorAll(":scope > .log-earlier").forEach(function (a) { a.remove(); });
      link = moreLink("log-earlier", "↑ Earlier", url("before", list[0].getAttribute("data-start")));
      log.insertBefore(link, list[0]);
      log.scrollTop = top - (height - log.scrollHeight); // what was on screen stays there
    } else {
      while (total > max && list.length > 1) {
        var last = list.pop();
        total -= size(last);
        last.remove();
      }
      // The live tail goes too: "later" brings it back once the end is reached again.
      log.querySelectorAll(":scope > .log-later, :scope > #log-tail").forEach(function (el) { el.remove(); });
      link = moreLink("log-later", "↓ Later", url("after", list[list.length - 1].getAttribute("data-end")));
      log.appendChild(link);
    }
    if (window.htmx) window.htmx.process(link);
  }

  // Before htmx puts a window in: where the view is. After: keep it there (or at the end, when following the
  // live tail), then drop what is too far away.
  var pending = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.parentNode !== log) return;
    pending = {
      direction: elt.classList.contains("log-earlier") ? "up" : "down",
      following: nearBottom(),
      height: log.scrollHeight,
      top: log.scrollTop,
    };
  });

  document.body.addEventListener("htmx:afterSwap", function () {
    if (!pending) return; // one swap puts in several elements: the first one's event does the work
    var done = pending;
    pending = null;
    if (done.direction === "up") log.scrollTop = done.top + (log.scrollHeight - done.height);
    cap(done.direction);
    if (done.direction === "down" && done.following) log.scrollTop = log.scrollHeight;
  });

  function mark(line) {
    log.querySelectorAll(".log-target").forEach(function (el) { el.classList.remove("log-target"); });
    line.classList.add("log-target");
  }

  // A line number's link opens ?line=N#LN: here it only marks the line and puts that URL in the address bar.
  log.addEventListener("click", function (event) {
    var a = event.target.closest("a[data-n]");
    if (!a || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    history.replaceState(null, "", a.href);
    mark(a.parentElement);
  });

  function show(hash) {
    var m = /^#L(\d+)$/.exec(hash);
    if (!m) return false;
    var line = document.getElementById("L" + m[1]);
    if (line) {
      mark(line);
      line.scrollIntoView({ block: "center" });
    } else if (!/[?&]line=/.test(location.search)) {
      location.replace(url("line", m[1]) + "#L" + m[1]); // a #L link to a line this window does not hold
    }
    return true;
  }

  window.addEventListener("hashchange", function () { show(location.hash); });
  // The browser scrolls to a #L target itself once the page has loaded, to the top edge: bring it to the middle.
  window.addEventListener("load", function () { show(location.hash); });
  if (!show(location.hash)) {
    var current = log.getAttribute("data-current");
    var line = current && document.getElementById("L" + current);
    if (line) {
      line.scrollIntoView({ block: "center" });
    } else {
      log.scrollTop = log.scrollHeight; // the tail: start at its end, and show that end
      if (log.getBoundingClientRect().bottom > window.innerHeight) log.scrollIntoView({ block: "end" });
    }
  }
})();
