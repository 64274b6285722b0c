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

// The register form's customer field: as one types, the server's matches (name or pinyin
// initials) fill its <datalist>. Without this file the field takes the exact name or initials.
document.querySelectorAll("input[data-lookup]").forEach((input) => {
  const list = input.list;
  if (!list) return;
  let timer = 0;
  let asked = "";
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const q = input.value.trim();
      if (q === asked) return;
      asked = q;
      try {
        const url = new URL(input.dataset.lookup, window.location.href);
        url.searchParams.set("q", q);
        const reply = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!reply.ok || q !== asked) return;
        const body = await reply.json();
        list.replaceChildren(...body.customers.map((c) => {
          const option = document.createElement("option");
          option.value = c.value;
          option.textContent = c.initials;
          return option;
        }));
      } catch (error) {
        // The field still works without suggestions.
      }
    }, 200);
  });
});
