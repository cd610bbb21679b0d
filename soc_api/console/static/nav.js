// On narrow screens the header's navigation folds behind a Menu button. Without this
// script the navigation simply stays open (the page marks itself "js" only when it runs).
"use strict";
document.documentElement.classList.add("js");
window.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("nav-toggle");
  const nav = document.getElementById("main-nav");
  if (!button || !nav) return;
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
});
