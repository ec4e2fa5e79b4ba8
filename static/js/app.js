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
// A request that could not reach the server says so (autosave.js handles its own forms; background polls
// just try again later).
function notSent(event) {
  var messages = byId("messages"), elt = event.detail.elt;
  if (messages && elt && elt.closest && !elt.closest("[data-poll], form[data-autosave]")) {
    messages.innerHTML = '<p class="flash error" role="alert"></p>';
    messages.firstChild.textContent = messages.getAttribute("data-offline");
  }
}
on("htmx:sendError", notSent);
on("htmx:timeout", notSent);
