// The portal's one script (decision 0038). Pages work without it; it adds what earns its
// place: copy buttons beside commands, and the progress of a release upload. Loaded with
// `defer` from the portal itself (the pages' Content-Security-Policy allows no other script).
(function () {
  "use strict";

  // ---- copy buttons: <button class="copy" data-copy="ID" hidden> copies #ID's text

  // The button says what happened for a moment; its live region (made below, beside it)
  // says it to a screen reader, which does not announce a button's own text changing.
  function say(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    if (button.liveRegion) {
      button.liveRegion.textContent = text;
    }
    window.clearTimeout(button.copyTimer);
    button.copyTimer = window.setTimeout(function () {
      button.textContent = label;
      if (button.liveRegion) {
        button.liveRegion.textContent = "";
      }
    }, 2000);
  }

  // Selects the element's text, so a refused clipboard still leaves one keystroke to copy.
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // The older way, for a page served over plain HTTP (no navigator.clipboard there).
  function copyBySelection(element) {
    select(element);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var fallback = function () {
      say(button, copyBySelection(source) ? "Copied" : "Selected: press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent).then(function () {
        say(button, "Copied");
      }, fallback);
    } else {
      fallback();
    }
  }

  var buttons = document.querySelectorAll("button.copy[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    (function (button) {
      var region = document.createElement("span");
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      button.parentNode.insertBefore(region, button.nextSibling);
      button.liveRegion = region;
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button);
      });
    })(buttons[i]);
  }

  // ---- upload progress: #publish-form posts through XMLHttpRequest into #upload-progress,
  // labelled by #upload-label, both in #upload-status

  var form = document.getElementById("publish-form");
  if (form && window.FormData && window.XMLHttpRequest) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = document.getElementById("upload-status");
      var label = document.getElementById("upload-label");
      var progress = document.getElementById("upload-progress");
      var submit = form.querySelector("button[type=submit], input[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      if (status) {
        status.hidden = false;
      }
      if (label) {
        label.textContent = "Uploading the files";
      }
      if (progress) {
        progress.max = 100;
        progress.value = 0;
      }
      xhr.upload.onprogress = function (e) {
        if (progress && e.lengthComputable) {
          progress.max = e.total;
          progress.value = e.loaded;
        }
      };
      // Every byte sent: the portal now verifies the bundles, which takes a while; the bar
      // turns indeterminate until it answers.
      xhr.upload.onload = function () {
        if (label) {
          label.textContent = "Verifying the bundles";
        }
        if (progress) {
          progress.removeAttribute("value");
        }
      };
      xhr.onload = function () {
        // Published: the portal answered 303 and the request followed it to the release.
        if (xhr.status < 400 && xhr.responseURL && xhr.responseURL !== form.action) {
          window.location.assign(xhr.responseURL);
          return;
        }
        // Refused (the verifier's reason) or anything else: show the page the portal sent.
        document.open();
        document.write(xhr.responseText);
        document.close();
      };
      xhr.onerror = function () {
        if (submit) {
          submit.disabled = false;
        }
        if (status) {
          status.hidden = true;
        }
        window.alert("The upload did not reach the portal. Check the connection and publish again.");
      };
      if (submit) {
        submit.disabled = true;
      }
      xhr.send(new FormData(form));
    });
  }
})();
