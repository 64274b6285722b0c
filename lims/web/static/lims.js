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
