// Autosave, loaded only by the page with autosaved forms (the personal-data page: js/app-autosave.js, after
// app.js, whose helpers it uses). Served without comment lines and indentation (compact_asset).
"use strict";
// Autosave (<form data-autosave>): a person always sees whether their input is saved. A save the server
// could not take (5xx) or that could not be sent marks the field unsaved (data-unsaved) and says so in the
// form's .saving-state (the texts are on <main data-unsaved-text data-unsent-text>); it is sent again after
// 1, 2, 4 … 30 s, at once when the browser is back online, and with the next input anyway; a save that lands
// clears the error banner it left. Per field: retry (its timer), delay (s) and again (this send is a retry).
var unsaved = [];
function retrySave(field) {
  clearTimeout(field.retry);
  field.again = true;
  if (field.isConnected) { htmx.trigger(field, "change"); }
}
function saveFailed(field, offline) {
  var state = field.closest("form[data-autosave]").querySelector(".saving-state");
  if (state) {
    state.textContent = byId("main").getAttribute(offline ? "data-unsent-text" : "data-unsaved-text");
    state.className = "saving-state error";
  }
  field.setAttribute("data-unsaved", "");
  // A failed retry waits twice as long as the last one; a failed new input tries again after 1 s.
  field.delay = field.again ? Math.min(30, (field.delay || 0.5) * 2) : 1;
  field.again = false;
  clearTimeout(field.retry);
  field.retry = setTimeout(retrySave, field.delay * 1000, field);
  if (unsaved.indexOf(field) < 0) { unsaved.push(field); }
}
// The autosaved field behind an htmx event, or null.
function autosaveField(event) {
  var field = event.detail.elt;
  return field && field.closest && field.closest("form[data-autosave]") ? field : null;
}
on("htmx:afterRequest", function (event) {
  var field = autosaveField(event), status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (!field || !status) { return; } // not an autosave, or not sent (htmx:sendError) or replaced by a newer save
  if (status >= 500) { saveFailed(field, false); return; }
  if (field.hasAttribute("data-unsaved") && status < 300) { // saved at last: the outage's banner goes
    each(doc, "#messages .flash.error", function (p) { p.remove(); });
  }
  field.removeAttribute("data-unsaved"); // answered: saved, or a message in its place (422, 403 …)
  clearTimeout(field.retry);
  field.again = false;
  if (unsaved.indexOf(field) >= 0) { unsaved.splice(unsaved.indexOf(field), 1); }
});
on("htmx:beforeRequest", function (event) {
  var field = autosaveField(event);
  if (field) { clearTimeout(field.retry); } // the next input is sent now: no separate retry
});
function autosaveNotSent(event) {
  var field = autosaveField(event);
  if (field) { saveFailed(field, true); }
}
on("htmx:sendError", autosaveNotSent);
on("htmx:timeout", autosaveNotSent);
window.addEventListener("online", function () { unsaved.slice().forEach(retrySave); });
// Leaving the page while a save has not landed: the browser asks first (its own, untranslatable text).
window.addEventListener("beforeunload", function (event) {
  if (unsaved.some(function (field) { return field.isConnected; })) { event.preventDefault(); event.returnValue = ""; }
});
