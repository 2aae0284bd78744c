// ---- install page: a running install (#install[data-state=running]) follows its event
// stream (install.rs): `progress` moves #install-progress, `phase` and `object` add to
// #install-events (a polite live region), and `done` or `failed` reloads the page, which then
// shows the objects. The events the page already shows (data-seen) are skipped; a reconnect
// sends Last-Event-ID, so the console goes on after it. Without JavaScript the page refreshes
// every 2 s instead.
(function () {
  "use strict";

  var section = document.getElementById("install");
  if (!section || section.getAttribute("data-state") !== "running" || !window.EventSource || !window.JSON) {
    return;
  }
  var list = document.getElementById("install-events");
  var bar = document.getElementById("install-progress");
  var bytes = document.getElementById("install-bytes");
  // The id of the last event shown: ids count from 0.
  var seen = parseInt(section.getAttribute("data-seen"), 10) - 1;
  var source = new EventSource(section.getAttribute("data-events"));

  // The event's data, unless it was shown already.
  function fresh(event) {
    var id = parseInt(event.lastEventId, 10);
    if (isNaN(id) || id <= seen) {
      return null;
    }
    seen = id;
    return JSON.parse(event.data);
  }

  function add(kind, text) {
    var item = document.createElement("li");
    item.setAttribute("data-event", kind);
    item.textContent = text;
    list.appendChild(item);
  }

  source.addEventListener("progress", function (event) {
    var data = fresh(event);
    if (!data || !bar) {
      return;
    }
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    if (!bytes) {
      bytes = document.createElement("p");
      bytes.id = "install-bytes";
      bytes.className = "muted";
      bar.setAttribute("aria-describedby", "install-bytes");
      bar.parentNode.insertBefore(bytes, bar.nextSibling);
    }
    bytes.textContent = data.text;
  });

  ["phase", "object"].forEach(function (kind) {
    source.addEventListener(kind, function (event) {
      var data = fresh(event);
      if (data) {
        add(kind, data.text);
      }
    });
  });

  ["done", "failed"].forEach(function (kind) {
    source.addEventListener(kind, function (event) {
      var data = fresh(event);
      source.close();
      if (data) {
        add(kind, data.text);
      }
      window.location.reload();
    });
  });
})();
