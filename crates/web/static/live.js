// Live account states on the overview: one server-sent event per change.
"use strict";
(function () {
  if (!window.EventSource) { return; }
  var source = new EventSource("/api/v1/events");
  source.addEventListener("state", update);
  source.addEventListener("message", update);
  function update(e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (_) { return; }
    var rows = document.querySelectorAll("tr[data-account]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-account") !== ev.account) { continue; }
      var state = ev.state;
      if (ev.progress) { state += " (" + ev.progress.done + "/" + ev.progress.total + ")"; }
      set(rows[i], "state", state);
      set(rows[i], "last_event", ev.detail);
      if (ev.last_run_text) { set(rows[i], "last_run", ev.last_run_text); }
      if (ev.last_error) { set(rows[i], "last_error", ev.last_error); }
    }
  }
  function set(row, field, text) {
    var cell = row.querySelector('[data-field="' + field + '"]');
    if (cell) { cell.textContent = text; }
  }
})();
