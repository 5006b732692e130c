// pengaduan web: small enhancements only; every page works without this script.
(function () {
  "use strict";
  // A form is sent once: a second click while the first request runs does nothing.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset.terkirim === "1") { ev.preventDefault(); return; }
    form.dataset.terkirim = "1";
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].setAttribute("aria-disabled", "true"); }
  });
  // The first field with an error gets the focus (screen readers announce its message).
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); }
})();
