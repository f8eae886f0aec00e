// seqflow owner pages: the template editor's add / remove / reorder, live overview figures, the CSV import.
// The pages are server-rendered forms; this script only adds what a form alone cannot do.
"use strict";

// ---- template editor --------------------------------------------------------------------------
// Inputs are named by JSON path; after any change of structure every name is rebuilt from DOM order.
function renumber(form) {
  form.querySelectorAll(".branch-edit").forEach((branch, bi) => {
    const bp = `branches[${bi}]`;
    branch.dataset.path = bp;
    branch.querySelector(".branch-no").textContent = bi + 1;
    branch.querySelectorAll(".step-edit").forEach((step, si) => {
      const sp = `${bp}.steps[${si}]`;
      step.dataset.path = sp;
      step.querySelector(".step-no").textContent = si + 1;
      step.querySelectorAll(".cond-edit").forEach((cond, ci) => { cond.dataset.path = `${sp}.conditions[${ci}]`; });
    });
  });
  form.querySelectorAll("[data-field]").forEach((input) => {
    if (input.dataset.scope === "top") { return; }
    const owner = input.closest(input.dataset.scope === "cond" ? ".cond-edit"
      : input.dataset.scope === "step" ? ".step-edit" : ".branch-edit");
    input.name = `${owner.dataset.path}.${input.dataset.field}`;
  });
}

function cloneOf(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

function move(el, up) {
  const sibling = up ? el.previousElementSibling : el.nextElementSibling;
  if (sibling) { up ? sibling.before(el) : sibling.after(el); }
}

const EDITOR_ACTS = {
  "add-branch": (form) => form.querySelector(".branches").append(cloneOf("tpl-branch")),
  "add-step": (form, el) => el.closest(".branch-edit").querySelector(".steps").append(cloneOf("tpl-step")),
  "add-cond": (form, el) => el.closest(".step-edit").querySelector(".conds").append(cloneOf("tpl-cond")),
  "remove-branch": (form, el) => el.closest(".branch-edit").remove(),
  "remove-step": (form, el) => el.closest(".step-edit").remove(),
  "remove-cond": (form, el) => el.closest(".cond-edit").remove(),
  "branch-up": (form, el) => move(el.closest(".branch-edit"), true),
  "branch-down": (form, el) => move(el.closest(".branch-edit"), false),
  "step-up": (form, el) => move(el.closest(".step-edit"), true),
  "step-down": (form, el) => move(el.closest(".step-edit"), false),
};

function startEditor(form) {
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("[data-act]");
    if (!button || !EDITOR_ACTS[button.dataset.act]) { return; }
    EDITOR_ACTS[button.dataset.act](form, button);
    renumber(form);
  });
  // The type decides which content fields show (email, SMS, instructions and script).
  form.addEventListener("change", (ev) => {
    if (ev.target.dataset.field === "type") { ev.target.closest(".step-edit").dataset.type = ev.target.value; }
  });
  const invalid = form.querySelector("[aria-invalid=true]");
  if (invalid) { invalid.scrollIntoView({ block: "center" }); invalid.focus(); }
}

// ---- overview: figures refresh without a reload ---------------------------------------------------
function pollFigures(table) {
  const every = Number(table.dataset.pollMs || 2000);
  async function tick() {
    try {
      const r = await fetch(table.dataset.figures, { credentials: "same-origin" });
      if (r.ok) {
        const data = await r.json();
        data.sequences.forEach((s) => {
          const row = table.querySelector(`tr[data-sequence="${s.id}"]`);
          if (!row) { return; }
          row.querySelectorAll("[data-figure]").forEach((cell) => {
            const value = s[cell.dataset.figure];
            cell.textContent = cell.dataset.figure.endsWith("_pct") ? `${value}%` : value;
          });
        });
      }
    } catch (e) { /* the next tick tries again */ }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
}

// ---- rollup CSV import: chunk by chunk, with a progress bar and the rows refused -------------------
function startImport(form) {
  const bar = document.getElementById("import-progress");
  const said = document.getElementById("import-status");
  const errors = document.getElementById("import-errors");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) { said.textContent = "Choose a CSV file first."; return; }
    const text = await file.text();
    errors.replaceChildren();
    let offset = 0, total = 1, added = 0;
    while (offset < total) {
      const body = new URLSearchParams({ csrf: form.elements.csrf.value, csv: text, offset: String(offset) });
      const r = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
      const data = await r.json().catch(() => ({}));
      if (r.status === 413) { said.textContent = "The file is too large to import at once: split it (1 MB each)."; return; }
      if (!r.ok) { said.textContent = data.error || `The import was refused (${r.status}).`; return; }
      ({ total } = data);
      offset = data.next;
      added += data.added;
      bar.max = total; bar.value = offset;
      said.textContent = `${offset} of ${total} rows read, ${added} contacts added`;
      data.errors.forEach((e) => {
        const li = document.createElement("li");
        li.textContent = `Row ${e.row}${e.field ? ` (${e.field})` : ""}: ${e.error}`;
        errors.append(li);
      });
      if (data.next >= total) { break; }
    }
    said.textContent += ". Done.";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const editor = document.getElementById("editor");
  if (editor) { startEditor(editor); }
  document.querySelectorAll("[data-figures]").forEach(pollFigures);
  const importer = document.getElementById("csv-import");
  if (importer) { startImport(importer); }
});
