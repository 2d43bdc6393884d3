// Open notebook `path` in JupyterLab, activate it, and note when its first chart finishes a redraw
// (window.__gl[id].tFirstChart); returns the widget id.
async (path) => {
  const app = window.jupyterapp;
  const t0 = performance.now();
  const w = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await w.context.ready;
  app.shell.activateById(w.id);
  window.__gl = window.__gl || {};
  const st = {widget: w, tOpen: t0, tFirstChart: null};
  window.__gl[w.id] = st;
  // the first time any chart of this notebook finishes a redraw
  const obs = new MutationObserver(() => {
    if (st.tFirstChart === null && w.node.querySelector('.gl-livechart[data-gl-redraws]')) {
      st.tFirstChart = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(w.node, {subtree: true, attributes: true, attributeFilter: ['data-gl-redraws']});
  return w.id;
}
