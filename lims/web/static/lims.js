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

// The sample page's result grid (issue 11 §4): its forms (marked data-fragment) are posted in
// the background and the server's grid fragment replaces the grid, so the page does not reload
// or jump to the top; the errors come back beside their fields with the typed input kept.
// Without this file the same forms post normally and the page comes back the same way.
async function postFragment(form, submitter) {
  const grid = document.getElementById("result-grid");
  const body = new FormData(form, submitter || undefined);
  const url = new URL(form.action, window.location.href);
  url.searchParams.set("fragment", "grid");
  const focused = document.activeElement;
  const focusKey = focused && (focused.id || (focused.name && focused.form && focused.form.action + "|" + focused.name));
  grid.setAttribute("aria-busy", "true");
  if (submitter) submitter.disabled = true;
  let response;
  try {
    response = await fetch(url, {method: "POST", body, credentials: "same-origin",
                                 headers: {"X-Requested-With": "fetch"}});
  } catch (error) {
    grid.removeAttribute("aria-busy");
    if (submitter) submitter.disabled = false;
    form.removeAttribute("data-fragment");
    form.requestSubmit(submitter || undefined);  // the network failed: post it the ordinary way
    return;
  }
  if (response.headers.get("X-Fragment") !== "grid") {
    // Not refused by the grid (not allowed, expired form …): show the server's own page.
    form.removeAttribute("data-fragment");
    grid.removeAttribute("aria-busy");
    if (submitter) submitter.disabled = false;
    form.requestSubmit(submitter || undefined);
    return;
  }
  const before = grid.dataset.status;
  const template = document.createElement("template");
  template.innerHTML = (await response.text()).trim();
  const fresh = template.content.getElementById("result-grid");
  grid.replaceWith(fresh);
  startLive(fresh);
  const status = document.getElementById("sample-status");
  if (status) status.textContent = fresh.dataset.statusLabel;
  if (fresh.dataset.status !== before) refreshWorkflow();
  const invalid = fresh.querySelector("[aria-invalid=true]");
  let target = invalid;
  if (!target && focusKey) {
    target = document.getElementById(focusKey) || Array.from(fresh.querySelectorAll("[name]")).find(
      (el) => el.form && el.form.action + "|" + el.name === focusKey);
  }
  if (!target) target = fresh.querySelector(".grid-value") || fresh.querySelector("#grid-notice");
  if (target) {
    if (target.closest("details")) target.closest("details").open = true;
    if (target.id === "grid-notice") target.tabIndex = -1;
    target.focus({preventScroll: true});
  }
}

// The sample's status changed (received → in testing …): the workflow actions follow it.
async function refreshWorkflow() {
  const workflow = document.getElementById("workflow");
  if (!workflow) return;
  const response = await fetch(window.location.pathname, {credentials: "same-origin"});
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = doc.getElementById("workflow");
  if (fresh) workflow.replaceWith(document.importNode(fresh, true));
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-fragment")) return;
  if (!document.getElementById("result-grid") || typeof fetch !== "function") return;
  event.preventDefault();
  postFragment(form, event.submitter);
});

// Tab in a row's unit goes on to the next row's value, as in a spreadsheet: the row's
// instrument, time and buttons are optional and stay reachable with Shift+Tab and the mouse.
document.addEventListener("keydown", (event) => {
  const field = event.target;
  if (event.key !== "Tab" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
  if (!(field instanceof HTMLInputElement) || !field.name.startsWith("unit-")) return;
  const grid = field.closest("#result-grid");
  if (!grid) return;
  const values = Array.from(grid.querySelectorAll("input.grid-value"));
  const mine = document.getElementById("value-" + field.name.slice("unit-".length));
  const next = values[values.indexOf(mine) + 1];
  if (!next) return;  // the last row: on to its instrument and the Save buttons
  event.preventDefault();
  next.focus();
  next.select();
});

// Fields typed with a server-side list (issue 14): the register form's customer (name or
// pinyin initials), the result grid's instrument (asset number or name, the fit ones only) and
// the qualify form's user (username or full name), the methods of the register forms and
// the new-plan form (code or title), and the scope items of the user forms (label).
// As one types, the server's matches fill the field's <datalist>; a field marked
// data-lookup-empty asks as soon as it is focused. Delegated, so that the grid's fields work
// after the grid is replaced. Without this file the field takes the exact text.
const lookups = new WeakMap();

// The answer for what the field holds (the one asked already, if it was): a promise.
function lookup(input) {
  const list = input.list;
  const state = lookups.get(input) || {asked: null};
  lookups.set(input, state);
  const q = input.value.trim();
  if (!list) return Promise.resolve();
  if (q === state.asked) return state.reply || Promise.resolve();
  state.asked = q;
  state.reply = fill(input, list, q, state);
  return state.reply;
}

async function fill(input, list, q, state) {
  try {
    const url = new URL(input.dataset.lookup, window.location.href);
    url.searchParams.set("q", q);
    const reply = await fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
    if (!reply.ok || q !== state.asked) return;
    const body = await reply.json();
    const items = body.customers || body.instruments || body.procedures || body.users
      || body.methods || body.scope_items || [];
    list.replaceChildren(...items.map((item) => {
      const option = document.createElement("option");
      option.value = item.value;
      option.textContent = item.label || item.initials || "";
      if (item.id !== undefined) option.dataset.id = item.id;
      return option;
    }));
  } catch (error) {
    // The field still works without suggestions.
  }
}

// A multi-choice field (data-pick, the methods of a register form): a suggestion picked, or
// typed (exactly, or in another case when one suggestion has it) and confirmed with Enter,
// becomes a ticked box beside the field, which is emptied for the next. What matches no
// suggestion stays typed; the server resolves it.
function pick(input) {
  const typed = input.value.trim();
  const options = input.list && typed ? Array.from(input.list.options) : [];
  const folded = options.filter((o) => o.value.toLowerCase() === typed.toLowerCase());
  const option = options.find((o) => o.value === typed) || (folded.length === 1 ? folded[0] : null);
  const picked = input.closest("[data-picker]")?.querySelector(".picked");
  if (!option || !picked) return false;
  const value = input.dataset.pickBy === "code" ? option.value : option.dataset.id;
  if (value === undefined) return false;
  let box = Array.from(picked.querySelectorAll("input[type=checkbox]"))
    .find((b) => b.name === input.dataset.pick && b.value === value);
  if (!box) {
    const label = document.createElement("label");
    label.className = "check";
    box = document.createElement("input");
    box.type = "checkbox";
    box.name = input.dataset.pick;
    box.value = value;
    label.append(box, ` ${option.value} ${option.textContent}`);
    picked.append(label);
  }
  box.checked = true;
  input.value = "";
  return true;
}

// Enter in a multi-choice field holding text adds it, once the server has named it (typed
// before the suggestions came, it waits for them); it never sends a half-filled form. In the
// empty field Enter sends the form as usual.
document.addEventListener("keydown", async (event) => {
  const input = event.target;
  if (event.key !== "Enter" || event.isComposing || !(input instanceof HTMLInputElement)
      || !input.dataset.pick || !input.value.trim()) return;
  event.preventDefault();
  if (pick(input)) return;
  window.clearTimeout(lookups.get(input)?.timer);
  await lookup(input);
  pick(input);
});

document.addEventListener("input", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.lookup) return;
  // Choosing from the browser's list replaces the text in one step (no key typed).
  if (input.dataset.pick && (!event.inputType || event.inputType === "insertReplacementText")
      && pick(input)) return;
  const state = lookups.get(input) || {asked: null};
  lookups.set(input, state);
  window.clearTimeout(state.timer);
  state.timer = window.setTimeout(() => lookup(input), 200);
});

document.addEventListener("focusin", (event) => {
  const input = event.target;
  if (input instanceof HTMLInputElement && input.dataset.lookup && "lookupEmpty" in input.dataset) {
    lookup(input);
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

// Live readings (issue 12 §2): a box marked data-live-url shows the latest reading of an
// instrument a capture agent reads, as rendered; this follows the instrument's Server-Sent
// Events stream and updates every box of that instrument (the grid may be replaced meanwhile),
// ticking the age each second and showing the instrument offline when its latest reading says
// so or nothing has arrived for data-offline-after seconds. The EventSource reconnects by
// itself (sending Last-Event-ID) when the server ends a stream.
const liveSources = new Map();

function liveState(box, offline) {
  box.classList.toggle("offline", offline);
  const state = box.querySelector(".live-state");
  if (state) state.textContent = offline ? box.dataset.labelOffline : box.dataset.labelOnline;
}

function liveTick(box) {
  const now = Date.now();
  const readAt = Number(box.dataset.readAtLocal);
  const age = box.querySelector(".live-age");
  if (age && readAt) {
    age.textContent = box.dataset.labelAgo.replace("{n}", String(Math.max(0, Math.round((now - readAt) / 1000))));
  }
  const seen = Number(box.dataset.seenAtLocal);
  if (!seen || now - seen > Number(box.dataset.offlineAfter) * 1000) liveState(box, true);
}

function liveShow(box, reading) {
  const now = Date.now();
  box.dataset.readAtLocal = String(now - reading.age * 1000);  // the age by the server's clock
  box.dataset.seenAtLocal = String(now);
  const value = box.querySelector(".live-value");
  if (value) value.textContent = reading.value === null ? "—" : `${reading.value} ${reading.unit_shown}`.trim();
  const stability = box.querySelector(".live-stability");
  if (stability) {
    stability.textContent = reading.stable === true ? box.dataset.labelStable
      : reading.stable === false ? box.dataset.labelDynamic : "";
  }
  liveState(box, reading.status === "error" || reading.status === "offline");
  liveTick(box);
}

function startLive(root) {
  const now = Date.now();
  root.querySelectorAll("[data-live-url]").forEach((box) => {
    if (box.dataset.age !== "") box.dataset.readAtLocal = String(now - Number(box.dataset.age) * 1000);
    if (box.dataset.seenAge !== "") box.dataset.seenAtLocal = String(now - Number(box.dataset.seenAge) * 1000);
    const asset = box.dataset.liveAsset;
    if (liveSources.has(asset) || typeof EventSource === "undefined") return;
    const url = new URL(box.dataset.liveUrl, window.location.href);
    url.searchParams.set("after", box.dataset.after);
    const source = new EventSource(url, {withCredentials: true});
    liveSources.set(asset, source);
    source.addEventListener("reading", (event) => {
      const reading = JSON.parse(event.data);
      document.querySelectorAll("[data-live-url]").forEach((el) => {
        if (el.dataset.liveAsset === asset) liveShow(el, reading);
      });
    });
  });
}

startLive(document);
setInterval(() => document.querySelectorAll("[data-live-url]").forEach(liveTick), 1000);
