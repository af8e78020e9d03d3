// Filter forms use hx-trigger="change, submit": a select filters at once, a text field when
// it loses focus or on Enter. Enter in a changed text field fires "change" and then "submit"
// in the same task, which would send the same query twice; the submit's request is dropped
// when a change of that form already sent one in this task.
"use strict";
(function () {
  const sentByChange = new WeakSet();
  document.addEventListener("htmx:confirm", function (event) {
    const form = event.target;
    const trigger = event.detail.triggeringEvent;
    if (!(form instanceof HTMLFormElement) || !trigger) return;
    if (trigger.type === "change") {
      sentByChange.add(form);
      setTimeout(function () {
        sentByChange.delete(form);
      }, 0);
    } else if (trigger.type === "submit" && sentByChange.has(form)) {
      event.preventDefault();
    }
  });
})();
