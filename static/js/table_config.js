// "Configure table" (templates/ui/_table_config.html): the arrows move a column's row up or
// down in the form at once, without asking the server; the hidden "order" fields move with
// their rows, so Save sends the order on screen. Without this script the arrows are submit
// buttons the server answers with the form in the new order.
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target instanceof Element ? event.target.closest("button[name=move]") : null;
  if (!button || !button.closest("form[data-table-config]")) return;
  event.preventDefault();
  const row = button.closest("li");
  if (!row) return;
  const up = button.value.endsWith(":up");
  const sibling = up ? row.previousElementSibling : row.nextElementSibling;
  if (!sibling) return;
  if (up) sibling.before(row);
  else sibling.after(row);
  button.focus();
});
// On the list page the filters change the address (htmx pushes it) after the form was drawn:
// Save and Reset take the list back to the filters on screen now.
document.addEventListener(
  "submit",
  function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-table-config")) return;
    if (!form.closest("details.table-config")) return;
    const query = form.querySelector("input[name=query]");
    if (query) query.value = window.location.search.replace(/^\?/, "");
  },
  true,
);
