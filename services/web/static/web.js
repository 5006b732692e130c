// pengaduan web: small enhancements only; every page works without this script.
(function () {
  "use strict";
  // A form is sent once: a second click while the first request runs does nothing. A download's form
  // (data-berulang) leaves the page where it is, so it may be sent again (the other format, say).
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.hasAttribute("data-berulang")) { return; }
    if (form.dataset.terkirim === "1") { ev.preventDefault(); return; }
    form.dataset.terkirim = "1";
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].setAttribute("aria-disabled", "true"); }
  });
  // Back to a page from the browser's cache (or a submit that never got an answer): it can be sent again.
  window.addEventListener("pageshow", function () {
    var sent = document.querySelectorAll("form[data-terkirim]");
    for (var i = 0; i < sent.length; i++) {
      delete sent[i].dataset.terkirim;
      var buttons = sent[i].querySelectorAll("button[aria-disabled]");
      for (var j = 0; j < buttons.length; j++) { buttons[j].removeAttribute("aria-disabled"); }
    }
  });
  // The first field with an error gets the focus (screen readers announce its message).
  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.focus(); }
})();
