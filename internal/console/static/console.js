// devapi console: reveal and copy buttons. Everything else works without
// JavaScript.
"use strict";
document.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button.reveal, button.copy");
  if (!btn) return;
  const input = document.getElementById(btn.dataset.target);
  if (!input) return;
  if (btn.classList.contains("reveal")) {
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    btn.textContent = show ? "Hide" : "Reveal";
    btn.setAttribute("aria-pressed", String(show));
    return;
  }
  let ok = false;
  try {
    await navigator.clipboard.writeText(input.value);
    ok = true;
  } catch (e) {
    // Without the clipboard API (an insecure origin): copy the selection.
    const type = input.type;
    input.type = "text";
    input.select();
    ok = document.execCommand("copy");
    input.type = type;
    input.setSelectionRange(0, 0);
  }
  btn.textContent = ok ? "Copied" : "Copy failed";
  btn.dataset.copied = ok ? "true" : "false";
  setTimeout(() => { btn.textContent = "Copy"; }, 2000);
});
