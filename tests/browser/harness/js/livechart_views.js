// The rows each LiveChart's Vega view under `root` holds (read from the view, not the DOM), its error
// and the "showing the last N rows" note if visible.
(root) => [...document.querySelectorAll(root + ' .gl-livechart')].map((box) => {
  const view = box.__glView;
  const rows = view ? view.data('data') : null;
  const note = box.parentElement.querySelector('.gl-livechart-note');
  return {
    ids: rows ? rows.map((d) => d._i) : null,
    steps: rows ? rows.map((d) => d.step) : null,
    error: box.dataset.glError || null,
    note: note && !note.hidden ? note.textContent : null,
  };
})
