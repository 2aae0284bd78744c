// The Control Plane console's script (decision 0040), part one of three: console-upload.js
// (the chunked, resumable upload) and console-install.js (the install's live progress)
// follow it in the one script the pages load. Pages work without it: every form posts and
// every page reads without JavaScript. Loaded with `defer` from the console itself (the
// Content-Security-Policy allows no other script, and nothing inline).
(function () {
  "use strict";

  // ---- long work: a form with data-busy="Running pre-flight…" says so once it is sent,
  // in its submit button and in a live region, and is not sent twice by a second click
  // while the server works (a pre-flight takes seconds, a support bundle longer).
  var forms = document.querySelectorAll("form[data-busy]");
  for (var i = 0; i < forms.length; i++) {
    (function (form) {
      var region = document.createElement("p");
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      form.appendChild(region);
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-sent") === "true") {
          event.preventDefault();
          return;
        }
        form.setAttribute("data-sent", "true");
        form.setAttribute("aria-busy", "true");
        var busy = form.getAttribute("data-busy");
        var button = form.querySelector("button[type=submit]");
        if (button) {
          button.setAttribute("data-label", button.textContent);
          button.textContent = busy;
        }
        region.textContent = busy;
      });
    })(forms[i]);
  }

  // A page shown again from the browser's history (Back) is not busy any more.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    var sent = document.querySelectorAll("form[data-sent]");
    for (var j = 0; j < sent.length; j++) {
      sent[j].removeAttribute("data-sent");
      sent[j].removeAttribute("aria-busy");
      var button = sent[j].querySelector("button[data-label]");
      if (button) {
        button.textContent = button.getAttribute("data-label");
      }
    }
  });
})();
