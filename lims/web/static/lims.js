// Progressive enhancement only: every page works without this file.
"use strict";

// "/" anywhere outside a field jumps to the scan field, as a hand scanner's prefix can be set to.
document.addEventListener("keydown", (event) => {
  const scan = document.getElementById("scan-q");
  const target = event.target;
  const typing = target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]");
  if (event.key === "/" && scan && !typing) {
    event.preventDefault();
    scan.focus();
  }
});

// A new request's form: "Add a sample row" clones the row template in place, keeping what is
// typed; without this script the button posts the form back and the server adds the row.
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-add-row]") : null;
  const template = document.getElementById("sample-row-template");
  const rows = document.getElementById("sample-rows");
  if (!button || !template || !rows) {
    return;
  }
  event.preventDefault();
  const present = rows.querySelectorAll("[data-row]");
  const max = Number(button.getAttribute("data-max") || "50");
  let next = 0;
  present.forEach((row) => {
    next = Math.max(next, Number(row.id.replace("row-", "")) + 1);
  });
  if (present.length >= max) {
    return;
  }
  const html = template.innerHTML.replaceAll("__i__", String(next))
    .replaceAll("__n__", String(present.length + 1));
  rows.insertAdjacentHTML("beforeend", html);
  const added = document.getElementById(`row-${next}`);
  const first = added ? added.querySelector("input") : null;
  if (first) {
    first.focus();
  }
  if (present.length + 1 >= max) {
    button.hidden = true;
  }
});
