// Confirmation for destructive actions: a form with data-confirm="question" asks first
// in the page's <dialog>. Without JavaScript (or <dialog>) the form posts as before.
(function () {
  "use strict";
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var text = document.getElementById("confirm-text");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.confirm || form.dataset.confirmed === "1") return;
    event.preventDefault();
    var submitter = event.submitter || null;
    text.textContent = form.dataset.confirm;
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue !== "confirm") return;
      form.dataset.confirmed = "1";
      if (form.requestSubmit) form.requestSubmit(submitter); else form.submit();
    };
    dialog.showModal();
  });
})();
