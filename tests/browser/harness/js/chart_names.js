// Every LiveChart under `root`: drawn or not, and the accessible name of its Vega view (the spec's
// description becomes the aria-label of the view's root SVG).
(root) => {
  const scope = document.querySelector(root) || document;
  return [...scope.querySelectorAll('.gl-livechart')].map((c, index) => {
    const svg = c.querySelector('svg.marks');
    return {index, drawn: !!svg, label: svg ? (svg.getAttribute('aria-label') || '') : '',
            role: svg ? (svg.getAttribute('role') || '') : '', inPanel: !!c.closest('.gl-panel'),
            inButtonPanel: !!c.closest('.gl-panel-button')};
  });
}
