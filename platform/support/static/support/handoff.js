// The support hand-off: post the single-use token to the workspace host at once.
(function () {
  "use strict";
  var form = document.getElementById("support-handoff");
  if (form && form.dataset.autosubmit === "1") {
    form.dataset.autosubmit = "0";
    form.submit();
  }
})();
