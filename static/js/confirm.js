// Destructive actions ask first: a form, or the button that submits it, carrying
// data-confirm="question" is only sent when the person accepts the browser's dialog.
// Capture phase on the document runs before htmx's own submit listeners on the form, so a
// dismissed dialog stops plain and htmx forms alike (the CSP allows no inline handlers).
"use strict";
document.addEventListener(
  "submit",
  function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const submitter = event.submitter;
    const question =
      (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);
