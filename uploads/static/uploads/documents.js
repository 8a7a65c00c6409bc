// Documents page: drag and drop, one XMLHttpRequest per file with upload progress,
// then polling of the document states until scans are done. Without JavaScript the
// form posts normally and the page reloads.
(function () {
  "use strict";
  if (!window.XMLHttpRequest || !window.FormData) return;
  var form = document.getElementById("upload-form");
  var table = document.getElementById("documents");
  if (form) setUpUploads(form);
  // Everyone, read-only users too, sees the scans on this page finish.
  if (table) pollStates(table);

  function setUpUploads(form) {
    var input = document.getElementById("id_files");
    var zone = document.getElementById("drop-zone");
    var list = document.getElementById("upload-progress");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var maxBytes = parseInt(form.dataset.maxBytes, 10);
    var quotaLeft = parseInt(form.dataset.quotaLeft, 10);

    function row(name) {
      var li = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = name + " ";
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      var status = document.createElement("small");
      li.append(label, bar, status);
      list.appendChild(li);
      return { bar: bar, status: status, li: li };
    }

    function uploadOne(file) {
      return new Promise(function (resolve) {
        var ui = row(file.name);
        if (file.size > maxBytes) {
          ui.status.textContent = " " + form.dataset.tooBig;
          ui.li.className = "error";
          return resolve(false);
        }
        if (file.size > quotaLeft) {
          ui.status.textContent = " " + form.dataset.overQuota;
          ui.li.className = "error";
          return resolve(false);
        }
        var data = new FormData();
        data.append("files", file, file.name);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("X-CSRFToken", token);
        xhr.setRequestHeader("Accept", "application/json");
        // Lets the server refuse an oversize file from Content-Length, before reading it.
        xhr.setRequestHeader("X-Upload-Files", "1");
        xhr.upload.onprogress = function (e) {
          if (e.lengthComputable) ui.bar.value = Math.round((e.loaded / e.total) * 100);
        };
        xhr.onload = function () {
          var body = {};
          try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
          if (xhr.status === 200) {
            quotaLeft -= file.size;
            ui.bar.value = 100;
            ui.status.textContent = " ✓";
          } else {
            ui.li.className = "error";
            ui.status.textContent = " " + ((body.errors || []).join(" ") || xhr.statusText);
          }
          resolve(xhr.status === 200);
        };
        xhr.onerror = function () { ui.li.className = "error"; ui.status.textContent = " ✗"; resolve(false); };
        xhr.send(data);
      });
    }

    function uploadAll(files) {
      var queue = Array.prototype.slice.call(files);
      var chain = Promise.resolve(false), any = false;
      queue.forEach(function (f) {
        chain = chain.then(function () { return uploadOne(f); }).then(function (ok) { any = any || ok; });
      });
      chain.then(function () { if (any) window.setTimeout(function () { window.location.reload(); }, 600); });
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (input.files.length) uploadAll(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
    });
  }

  // While a document on this page waits for its scan, poll the states of those rows and
  // update them in place (their cells are aria-live regions, so the change is announced).
  function pollStates(table) {
    var url = table.dataset.statesUrl;
    function waiting() {
      return table.querySelectorAll('tr[data-state="quarantined"], tr[data-state="scanning"]');
    }
    function update(d) {
      var tr = table.querySelector('tr[data-document-id="' + d.id + '"]');
      if (!tr || tr.dataset.state === d.state) return;
      tr.dataset.state = d.state;
      var cell = tr.querySelector("td.state");
      cell.className = "state state-" + d.state;
      cell.querySelector(".state-label").textContent = d.label;
      if (d.download_url) {
        var name = tr.querySelector("td.name > span");
        if (name) {
          var link = document.createElement("a");
          link.href = d.download_url;
          link.textContent = name.textContent;
          name.replaceWith(link);
        }
        var actions = tr.querySelector("td.actions");
        if (actions && !actions.querySelector("a.button")) {
          var button = document.createElement("a");
          button.className = "button";
          button.href = d.download_url;
          button.textContent = table.dataset.downloadLabel;
          actions.prepend(button);
        }
      }
    }
    function tick() {
      var rows = waiting();
      if (!rows.length) return;
      var ids = Array.prototype.map.call(rows, function (tr) {
        return "id=" + encodeURIComponent(tr.dataset.documentId);
      });
      var xhr = new XMLHttpRequest();
      xhr.open("GET", url + "?" + ids.join("&"));
      xhr.onload = function () {
        if (xhr.status === 200) JSON.parse(xhr.responseText).documents.forEach(update);
        if (waiting().length) window.setTimeout(tick, 2000);
      };
      xhr.onerror = function () { window.setTimeout(tick, 5000); };
      xhr.send();
    }
    window.setTimeout(tick, 1500);
  }
})();
