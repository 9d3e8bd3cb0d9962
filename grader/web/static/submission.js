// Progressive enhancement: poll the submission's status and reload once it is graded.
// Without JavaScript the page refreshes itself (<noscript> meta refresh).
(function () {
  var box = document.getElementById("result");
  if (!box) return;
  var url = box.getAttribute("data-poll"), last = box.getAttribute("data-status");
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(poll, 3000); return; }
        if (data.status !== last && (data.status === "graded" || data.status === "failed" || last === "queued")) {
          window.location.reload();
          return;
        }
        var pos = document.getElementById("position");
        var template = pos && pos.getAttribute("data-template");
        if (template && data.queue_position) pos.textContent = template.replace("987654321", String(data.queue_position));
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 700);
})();
