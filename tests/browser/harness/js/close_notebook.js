// Shut notebook `id`'s kernel down and close its tab without saving.
async (id) => {
  const w = window.__gl[id].widget;
  try { await w.sessionContext.shutdown(); } catch (e) {}
  w.context.model.dirty = false;
  w.close();
  delete window.__gl[id];
}
