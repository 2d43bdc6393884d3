// Put a focus start just before `panel` (as if the student had tabbed through the cell above) and
// install window.__glActive(): what has the focus now, and is it inside the panel?
(panel) => {
  let start = document.getElementById('gl-kbd-start');
  if (!start) { start = document.createElement('span'); start.id = 'gl-kbd-start'; start.tabIndex = -1; }
  panel.parentElement.insertBefore(start, panel);
  start.focus();
  window.__glActive = () => {
    const a = document.activeElement;
    return {inPanel: panel.contains(a), role: a.getAttribute('role') || a.tagName.toLowerCase(),
            label: a.getAttribute('aria-label') || a.textContent.trim().slice(0, 40)};
  };
}
