// ---- Bundles tab: the resumable upload (upload.rs says the protocol). #upload-form's files
// go to /uploads in 8 MiB pieces, each PATCHed at the offset the console holds; when a piece
// fails (a dropped port-forward, a console restarting) the script waits, asks HEAD where the
// upload stands and goes on from there. An upload's id is kept in localStorage under the
// file's name, size and date, so choosing the same file again (after a reload or a new
// sign-in) resumes it. Without JavaScript the form posts the files whole. While a bundle
// verifies, the page looks again every 5 s (the <noscript> refresh does it without script).
(function () {
  "use strict";

  var PIECE = 8 * 1024 * 1024;
  // Consecutive failures before the script gives up: with its back-off, about 9 minutes.
  var TRIES = 20;
  var busy = false;

  var verifying =
    document.querySelector("#bundles tr[data-state=verifying]") ||
    (document.getElementById("bundle-state") || {}).textContent === "verifying";
  if (verifying) {
    window.setTimeout(function () {
      if (!busy) {
        window.location.reload();
      }
    }, 5000);
  }

  var form = document.getElementById("upload-form");
  if (!form || !window.fetch || !window.Blob || !window.Promise || !window.JSON) {
    return;
  }
  var input = document.getElementById("upload-file");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var csrf = form.querySelector("input[name=csrf]").value;

  function say(text) {
    status.textContent = text;
  }

  function show(done, total) {
    bar.hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = done;
  }

  // An error the upload cannot get past by trying again; `gone`: the console no longer has it.
  function fatal(message, gone) {
    var error = new Error(message);
    error.fatal = true;
    error.gone = !!gone;
    return error;
  }

  // What a response the protocol does not expect means, as a rejected promise.
  function failure(response, what) {
    if (response.type === "opaqueredirect" || response.status === 303) {
      return Promise.reject(
        fatal("Your session ended: sign in again, then choose the same files: the upload resumes where it stopped.")
      );
    }
    if (response.status === 403) {
      return Promise.reject(
        fatal("Refused: your account may not upload bundles (create bundles.console.genesis.dev in the console's namespace).")
      );
    }
    if (response.status === 404) {
      return Promise.reject(fatal("The console no longer has this upload.", true));
    }
    if (response.status === 413) {
      return Promise.reject(fatal("The console refused " + what + " as too large."));
    }
    return Promise.reject(new Error("the console answered " + response.status + " to " + what));
  }

  function key(file) {
    return "genesis-console-upload:" + file.name + ":" + file.size + ":" + file.lastModified;
  }

  function remembered(file) {
    try {
      return window.localStorage.getItem(key(file));
    } catch (e) {
      return null;
    }
  }

  function remember(file, id) {
    try {
      if (id) {
        window.localStorage.setItem(key(file), id);
      } else {
        window.localStorage.removeItem(key(file));
      }
    } catch (e) {
      // No storage: the upload still works, it only cannot resume after a reload.
    }
  }

  function request(method, path, headers, body) {
    headers["X-CSRF-Token"] = csrf;
    return window.fetch(path, {
      method: method,
      headers: headers,
      body: body,
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store"
    });
  }

  function create(file) {
    var body = JSON.stringify({ name: file.name, size: file.size });
    return request("POST", "/uploads", { "Content-Type": "application/json" }, body).then(function (response) {
      if (response.status === 400 || response.status === 409) {
        return Promise.reject(
          fatal(
            "The console refused " +
              file.name +
              (response.status === 409
                ? ": a file of that name is already in the bundles directory."
                : ": upload the bundle archive (NAME-VERSION.tar.zst) and its sidecars under their own names.")
          )
        );
      }
      if (response.status !== 201) {
        return failure(response, "starting the upload of " + file.name);
      }
      return response.json().then(function (reply) {
        remember(file, reply.id);
        return { id: reply.id, offset: 0 };
      });
    });
  }

  function offset(id) {
    return request("HEAD", "/uploads/" + id, {}).then(function (response) {
      if (response.status !== 200) {
        return failure(response, "asking where the upload stands");
      }
      return parseInt(response.headers.get("Upload-Offset"), 10);
    });
  }

  // The upload of `file`: the one remembered, where the console has it, else a new one.
  function begin(file) {
    var id = remembered(file);
    if (!id) {
      return create(file);
    }
    return offset(id).then(
      function (at) {
        return { id: id, offset: at };
      },
      function (error) {
        if (error.gone) {
          remember(file, null);
          return create(file);
        }
        throw error;
      }
    );
  }

  // One piece from `at`: the console's reply, `{offset, done, location}`; a 409 says where
  // the upload stands instead.
  function piece(id, file, at) {
    var headers = { "Upload-Offset": String(at), "Content-Type": "application/offset+octet-stream" };
    var body = file.slice(at, Math.min(at + PIECE, file.size));
    return request("PATCH", "/uploads/" + id, headers, body).then(function (response) {
      if (response.status === 200) {
        return response.json();
      }
      if (response.status === 409 && response.headers.get("Upload-Offset") !== null) {
        return { offset: parseInt(response.headers.get("Upload-Offset"), 10), done: false };
      }
      return failure(response, "a piece of " + file.name);
    });
  }

  function later(seconds) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, seconds * 1000);
    });
  }

  // Sends `file` from `upload.offset` to its end; resolves with the page the console names
  // for it. `before`: the bytes of the files already sent, `total`: of all of them.
  function send(file, upload, before, total) {
    var failures = 0;
    function from(at) {
      show(before + at, total);
      say("Uploading " + file.name + ": " + Math.floor((100 * at) / Math.max(file.size, 1)) + " %");
      return piece(upload.id, file, at).then(function (reply) {
        failures = 0;
        if (reply.done) {
          remember(file, null);
          return reply.location;
        }
        return from(reply.offset);
      }, retry);
    }
    function retry(error) {
      if (error.fatal) {
        throw error;
      }
      failures += 1;
      if (failures > TRIES) {
        throw fatal(
          "The upload of " + file.name + " keeps failing (" + error.message + "). Choose the same file again later: " +
            "it resumes where it stopped."
        );
      }
      var wait = Math.min(30, Math.pow(2, failures));
      say("The connection broke (" + error.message + "); resuming " + file.name + " in " + wait + " s.");
      return later(wait)
        .then(function () {
          return offset(upload.id);
        })
        .then(from, retry);
    }
    return from(upload.offset);
  }

  form.addEventListener("submit", function (event) {
    if (!input.files || input.files.length === 0) {
      return;
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    // Sidecars first: the archive's verification, which its arrival starts, then finds them.
    var files = Array.prototype.slice.call(input.files).sort(function (a, b) {
      return /\.tar\.zst$/.test(a.name) - /\.tar\.zst$/.test(b.name);
    });
    var total = files.reduce(function (sum, file) {
      return sum + file.size;
    }, 0);
    var sent = 0;
    var landing = "/bundles";
    var chain = Promise.resolve();
    files.forEach(function (file) {
      chain = chain.then(function () {
        return begin(file)
          .then(function (upload) {
            return send(file, upload, sent, total);
          })
          .then(function (location) {
            sent += file.size;
            if (location && /\.tar\.zst$/.test(file.name)) {
              landing = location;
            }
          });
      });
    });
    chain.then(
      function () {
        show(total, total);
        say("Uploaded. The bundle is being verified; opening its page.");
        window.location.assign(landing);
      },
      function (error) {
        busy = false;
        say(error.message);
      }
    );
  });
})();
