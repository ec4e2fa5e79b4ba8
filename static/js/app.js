// Small enhancements on top of plain forms; every page works without this file.
// Served without comment lines and indentation (compact_asset), so comments here cost nothing.
"use strict";
var doc = document;
function on(type, handler) { doc.addEventListener(type, handler); }
function each(root, selector, fn) { Array.prototype.forEach.call(root.querySelectorAll(selector), fn); }
function byId(id) { return doc.getElementById(id); }
// The nearest element matching selector from the event's target, or null (text nodes and window have none).
function near(event, selector) { return event.target.closest ? event.target.closest(selector) : null; }
doc.documentElement.classList.add("js");
on("click", function (event) {
  // Close the <dialog> that holds this button: <button data-close-dialog>.
  var el = near(event, "[data-close-dialog]");
  if (el && el.closest("dialog")) {
    event.preventDefault(); // a Cancel link leaves the page only when there is no popup to close
    el.closest("dialog").close();
  }
  // Open a closed <dialog> again (the SMS code popup after Esc): <button data-open-dialog="dialog-id">.
  el = near(event, "[data-open-dialog]");
  if (el) { byId(el.getAttribute("data-open-dialog")).showModal(); }
  // A click anywhere on a <tr data-row-link> (but its controls) follows its [data-row-link-target] link.
  el = near(event, "tr[data-row-link]");
  var cell = near(event, "td");
  if (el && !near(event, "a, button, input, label, select, textarea") && !(cell && cell.querySelector("input"))) {
    el = el.querySelector("[data-row-link-target]");
    if (el) { el.click(); }
  }
});
// Select-all checkbox: <input type=checkbox data-select-all> ticks the form's name="ids" boxes and mirrors them.
on("change", function (event) {
  var box = event.target, all = box.form && box.type === "checkbox" && box.form.querySelector("[data-select-all]");
  if (!all) { return; }
  var boxes = Array.prototype.slice.call(box.form.querySelectorAll("input[type=checkbox][name=ids]"));
  if (box === all) {
    boxes.forEach(function (b) { b.checked = all.checked; });
  } else if (box.name === "ids") {
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
});
// Pollers (<... data-poll>) skip their turn while the tab is hidden.
on("htmx:confirm", function (event) {
  if (doc.hidden && event.target.hasAttribute && event.target.hasAttribute("data-poll")) { event.preventDefault(); }
});
// A fragment that contains <dialog data-open-modal> opens as a modal as soon as it is swapped in.
on("htmx:load", function (event) {
  var root = event.detail.elt;
  if (!root.querySelectorAll) { return; }
  var dialogs = root.matches("dialog[data-open-modal]") ? [root] : root.querySelectorAll("dialog[data-open-modal]");
  Array.prototype.forEach.call(dialogs, function (dialog) { if (!dialog.open) { dialog.showModal(); } });
  // First visit: send the browser's time zone once (the server keeps a zone the person chose).
  each(root, "form[data-detect-time-zone]", function (form) {
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) { form.elements.time_zone.value = zone; htmx.trigger(form, "submit"); }
  });
});
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
function notSent(event) {
  var field = autosaveField(event), messages = byId("messages"), elt = event.detail.elt;
  if (field) { saveFailed(field, true); return; }
  // Any other request that could not reach the server says so (background polls just try again later).
  if (messages && elt && !elt.closest("[data-poll]")) {
    messages.innerHTML = '<p class="flash error" role="alert"></p>';
    messages.firstChild.textContent = messages.getAttribute("data-offline");
  }
}
on("htmx:sendError", notSent);
on("htmx:timeout", notSent);
window.addEventListener("online", function () { unsaved.slice().forEach(retrySave); });
// Leaving the page while a save has not landed: the browser asks first (its own, untranslatable text).
window.addEventListener("beforeunload", function (event) {
  if (unsaved.some(function (field) { return field.isConnected; })) { event.preventDefault(); event.returnValue = ""; }
});
