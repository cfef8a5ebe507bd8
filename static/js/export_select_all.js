// The export page's "全选" toggle, wired here because the Content-Security-Policy forbids inline handlers.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".select-toggle").forEach((toggle) => {
    toggle.addEventListener("change", (event) => {
      document
        .querySelectorAll('.selectable-field-export-row input[type="checkbox"]')
        .forEach((checkbox) => {
          checkbox.checked = event.target.checked;
        });
    });
  });
});
