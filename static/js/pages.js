// Enhancements only some pages use (password fields, print buttons, file drop zones): a template with one of
// them loads js/app-pages.js (app.js and this file as one, BUNDLES in app.py), so this uses app.js's helpers;
// tests/test_frame.py checks that every such template does.
// A field with data-shown-when="other-id" shows only once that input has a value ("Repeat new password").
function syncShownWhen(root) {
  each(root, "[data-shown-when]", function (el) {
    var source = byId(el.getAttribute("data-shown-when"));
    if (source) { el.hidden = !source.value; }
  });
}
on("input", function () { syncShownWhen(doc); });
on("htmx:load", function (event) {
  if (event.detail.elt.querySelectorAll) { syncShownWhen(event.detail.elt); }
});
on("click", function (event) {
  // Show/hide a password: <button data-toggle-password="field-id">.
  var el = near(event, "[data-toggle-password]"), input = el && byId(el.getAttribute("data-toggle-password"));
  if (input) {
    input.type = input.type === "password" ? "text" : "password";
    el.setAttribute("aria-pressed", input.type === "text");
  }
  // Print button on printable pages (hidden without JavaScript, where the browser's own Print works).
  if (near(event, "[data-print]")) { window.print(); }
});
on("DOMContentLoaded", function () {
  each(doc, "[data-print]", function (b) { b.classList.remove("hidden"); });
});
// File drop zone: <form data-dropzone> with a file input; a dropped file is put in the input and the form submitted.
["dragover", "dragleave", "drop"].forEach(function (type) {
  on(type, function (event) {
    var zone = near(event, "[data-dropzone]"), files = event.dataTransfer && event.dataTransfer.files;
    if (!zone) { return; }
    zone.classList.toggle("dragging", type === "dragover");
    if (type === "dragover") { event.preventDefault(); }
    if (type === "drop" && files && files.length) {
      event.preventDefault();
      zone.querySelector("input[type=file]").files = files;
      zone.requestSubmit();
    }
  });
});
