// seqflow web UI: small progressive enhancements. Every page works without this script.
"use strict";

// Live task list: re-fetch the list partial and swap it in when it changed (no reload, selection kept).
function startPolling(box) {
  const every = Number(box.dataset.pollMs || 3000);
  let last = box.innerHTML;
  async function tick() {
    if (document.hidden) { setTimeout(tick, every); return; }  // a background tab asks for nothing
    try {
      const r = await fetch(box.dataset.poll, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (r.redirected) { window.location.href = r.url; return; }  // signed out meanwhile: show sign-in
      if (r.ok) {
        const html = await r.text();
        if (html !== last && !box.contains(document.activeElement)) {
          box.innerHTML = html;
          last = html;
        }
      }
    } catch (e) { /* the next tick tries again */ }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
}

// Copy buttons copy the text of the element named by data-copy and say so.
function copyText(button) {
  const source = document.getElementById(button.dataset.copy);
  const text = source ? source.innerText : "";
  const done = () => { const old = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = old; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}

// The task panel: Escape closes it (in a text field it first leaves the field, so typing is never lost);
// Enter on the panel itself (outside fields, buttons and links) opens the contact's full record.
function panelKeys(panel) {
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target.closest("input, textarea, select");
    const control = ev.target.closest("input, textarea, select, button, a");
    if (ev.key === "Escape" && typing) {
      ev.target.blur();
    } else if (ev.key === "Escape" && panel.dataset.close) {
      window.location.href = panel.dataset.close;
    } else if (ev.key === "Enter" && !control && panel.contains(ev.target) && panel.dataset.open) {
      window.location.href = panel.dataset.open;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach(startPolling);
  document.querySelectorAll("[data-copy]").forEach((b) => b.addEventListener("click", () => copyText(b)));
  const panel = document.querySelector("[data-panel]");
  if (panel) {
    panelKeys(panel);
    // Keyboard users land in the panel that just opened (e.g. the next task after Mark As).
    if (!document.activeElement || document.activeElement === document.body) { panel.focus({ preventScroll: true }); }
  }
  document.querySelectorAll("form[data-confirm]").forEach((f) => f.addEventListener("submit", (ev) => {
    if (!window.confirm(f.dataset.confirm)) { ev.preventDefault(); }
  }));
});
