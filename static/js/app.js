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
// Autosave (<form data-autosave data-unsaved="…" data-offline="…">): a person always sees whether their
// input is saved. A save the server could not take (5xx) or that could not be sent marks the field unsaved
// in the form's .saving-state and is sent again after 1, 2, 4 … 30 s, at once when the browser is back
// online, and with the next input anyway; a save that lands clears the error banner it left.
var unsavedFields = [];
function retrySave(field) {
  clearTimeout(field.kabinetRetry);
  field.kabinetRetry = null;
  field.kabinetRetrying = true;
  if (field.isConnected) { htmx.trigger(field, "change"); }
}
function saveFailed(field, offline) {
  var form = field.closest("form[data-autosave]");
  var state = form.querySelector(".saving-state");
  if (state) {
    state.textContent = form.getAttribute(offline ? "data-offline" : "data-unsaved");
    state.classList.remove("success");
    state.classList.add("error");
  }
  field.setAttribute("data-unsaved", "");
  // A failed retry waits twice as long as the last one; a failed new input tries again after 1 s.
  field.kabinetDelay = field.kabinetRetrying ? Math.min(30, (field.kabinetDelay || 0.5) * 2) : 1;
  field.kabinetRetrying = false;
  clearTimeout(field.kabinetRetry);
  field.kabinetRetry = setTimeout(retrySave, field.kabinetDelay * 1000, field);
  if (unsavedFields.indexOf(field) < 0) { unsavedFields.push(field); }
}
function autosaveField(event) {
  var field = event.detail && event.detail.elt;
  return field && field.closest && field.closest("form[data-autosave]") ? field : null;
}
document.addEventListener("htmx:afterRequest", function (event) {
  var field = autosaveField(event), status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (!field || !status) { return; } // not an autosave, or not sent (htmx:sendError) or replaced by a newer save
  if (status >= 500) { saveFailed(field, false); return; }
  if (field.hasAttribute("data-unsaved") && status < 300) { // saved at last: the outage's banner goes
    Array.prototype.forEach.call(document.querySelectorAll("#messages .flash.error"), function (p) { p.remove(); });
  }
  field.removeAttribute("data-unsaved"); // answered: saved, or a message in its place (422, 403 …)
  clearTimeout(field.kabinetRetry);
  field.kabinetDelay = 0;
  field.kabinetRetrying = false;
  if (unsavedFields.indexOf(field) >= 0) { unsavedFields.splice(unsavedFields.indexOf(field), 1); }
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var field = autosaveField(event);
  if (field) { clearTimeout(field.kabinetRetry); } // the next input is sent now: no separate retry
});
function notSent(event) {
  var field = autosaveField(event), messages = document.getElementById("messages");
  if (field) { saveFailed(field, true); return; }
  // Any other request that could not reach the server says so (background polls just try again later).
  if (messages && event.detail.elt && !event.detail.elt.closest("[data-poll]") && messages.getAttribute("data-offline")) {
    messages.innerHTML = "";
    var p = document.createElement("p");
    p.className = "flash error";
    p.setAttribute("role", "alert");
    p.textContent = messages.getAttribute("data-offline");
    messages.appendChild(p);
  }
}
document.addEventListener("htmx:sendError", notSent);
document.addEventListener("htmx:timeout", notSent);
window.addEventListener("online", function () { unsavedFields.slice().forEach(retrySave); });
// Leaving the page while a save has not landed: the browser asks first (its own, untranslatable text).
window.addEventListener("beforeunload", function (event) {
  if (unsavedFields.some(function (field) { return field.isConnected; })) { event.preventDefault(); event.returnValue = ""; }
});
