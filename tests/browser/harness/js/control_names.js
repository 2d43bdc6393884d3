// Every interactive element in our widgets under `root`, with the name a screen reader would announce
// (approximated the way axe/ARIA do it for these controls: aria-label, aria-labelledby, a <label for>,
// a wrapping label, then the text content for buttons).
(root) => {
  const scope = document.querySelector(root) || document;
  const byId = (ids) => ids.split(/\s+/).map((i) => document.getElementById(i)?.textContent || '').join(' ');
  const nameOf = (e) => {
    if (e.getAttribute('aria-label')) return e.getAttribute('aria-label');
    if (e.getAttribute('aria-labelledby')) return byId(e.getAttribute('aria-labelledby'));
    if (e.id) { const l = document.querySelector(`label[for="${CSS.escape(e.id)}"]`); if (l) return l.textContent; }
    const wrap = e.closest('label'); if (wrap) return wrap.textContent;
    if (e.tagName === 'BUTTON') return e.textContent;
    return e.getAttribute('title') || '';
  };
  const sel = 'input, select, textarea, button, [role="slider"], [role="button"], [role="checkbox"], [role="combobox"]';
  const found = [];
  for (const own of scope.querySelectorAll('.gl-panel, .gl-livechart-widget')) {
    for (const e of own.querySelectorAll(sel)) {
      if (e.closest('.vega-embed details')) continue;  // vega-embed's action menu: counted once below
      if (e.offsetParent === null && getComputedStyle(e).position !== 'fixed') continue;  // not rendered
      found.push({tag: e.tagName.toLowerCase(), role: e.getAttribute('role') || '', name: nameOf(e).trim(),
                  html: e.outerHTML.slice(0, 160)});
    }
  }
  return found;
}
