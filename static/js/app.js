// Small enhancements on top of plain forms; every page works without this file.
"use strict";
document.documentElement.classList.add("js");
// A field with data-shown-when="other-id" shows only once that input has a value ("Repeat new password").
function syncShownWhen(root) {
  Array.prototype.forEach.call(root.querySelectorAll("[data-shown-when]"), function (el) {
    var source = document.getElementById(el.getAttribute("data-shown-when"));
    if (source) { el.hidden = !source.value; }
  });
}
document.addEventListener("input", function () { syncShownWhen(document); });
document.addEventListener("click", function (event) {
  // Show/hide a password: <button data-toggle-password="field-id">.
  var toggle = event.target.closest("[data-toggle-password]");
  if (toggle) {
    var input = document.getElementById(toggle.getAttribute("data-toggle-password"));
    if (input) {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      toggle.setAttribute("aria-pressed", show ? "true" : "false");
    }
  }
  // Close the <dialog> that holds this button: <button data-close-dialog>.
  var closer = event.target.closest("[data-close-dialog]");
  if (closer && closer.closest("dialog")) {
    event.preventDefault(); // a Cancel link leaves the page only when there is no popup to close
    closer.closest("dialog").close();
  }
  // Open a closed <dialog> again (the SMS code popup after Esc): <button data-open-dialog="dialog-id">.
  var opener = event.target.closest("[data-open-dialog]");
  if (opener) { document.getElementById(opener.getAttribute("data-open-dialog")).showModal(); }
  // A click anywhere on a <tr data-row-link> (but its controls) follows its [data-row-link-target] link.
  var row = event.target.closest("tr[data-row-link]");
  if (row && !event.target.closest("a, button, input, label, select, textarea") &&
      !(event.target.closest("td") && event.target.closest("td").querySelector("input"))) {
    var link = row.querySelector("[data-row-link-target]");
    if (link) { link.click(); }
  }
});
// Select-all checkbox: <input type=checkbox data-select-all> ticks the form's name="ids" boxes and mirrors them.
document.addEventListener("change", function (event) {
  var form = event.target.form;
  if (!form || event.target.type !== "checkbox") { return; }
  var all = form.querySelector("[data-select-all]");
  var boxes = form.querySelectorAll("input[type=checkbox][name=ids]");
  if (!all) { return; }
  if (event.target === all) {
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  } else if (event.target.name === "ids") {
    var ticked = Array.prototype.filter.call(boxes, function (box) { return box.checked; }).length;
    all.checked = ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
});
// Pollers (<... data-poll>) skip their turn while the tab is hidden.
document.addEventListener("htmx:confirm", function (event) {
  if (document.hidden && event.target.hasAttribute && event.target.hasAttribute("data-poll")) { event.preventDefault(); }
});
// A fragment that contains <dialog data-open-modal> opens as a modal as soon as it is swapped in.
document.addEventListener("htmx:load", function (event) {
  var dialogs = event.detail.elt.querySelectorAll ? event.detail.elt.querySelectorAll("dialog[data-open-modal]") : [];
  if (event.detail.elt.matches && event.detail.elt.matches("dialog[data-open-modal]")) { dialogs = [event.detail.elt]; }
  Array.prototype.forEach.call(dialogs, function (dialog) { if (!dialog.open) { dialog.showModal(); } });
  if (event.detail.elt.querySelectorAll) {
    syncShownWhen(event.detail.elt);
    // First visit: send the browser's time zone once (the server keeps a zone the person chose).
    Array.prototype.forEach.call(event.detail.elt.querySelectorAll("form[data-detect-time-zone]"), function (form) {
      var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) { form.elements.time_zone.value = zone; htmx.trigger(form, "submit"); }
    });
  }
});
// Print button on printable pages (hidden without JavaScript, where the browser's own Print works).
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) { b.classList.remove("hidden"); });
});
// File drop zone: <form data-dropzone> with a file input; a dropped file is put in the input and the form submitted.
document.addEventListener("dragover", function (event) {
  var zone = event.target.closest && event.target.closest("[data-dropzone]");
  if (zone) { event.preventDefault(); zone.classList.add("dragging"); }
});
document.addEventListener("dragleave", function (event) {
  var zone = event.target.closest && event.target.closest("[data-dropzone]");
  if (zone) { zone.classList.remove("dragging"); }
});
document.addEventListener("drop", function (event) {
  var zone = event.target.closest && event.target.closest("[data-dropzone]");
  if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) { return; }
  event.preventDefault();
  zone.classList.remove("dragging");
  zone.querySelector("input[type=file]").files = event.dataTransfer.files;
  zone.requestSubmit();
});
