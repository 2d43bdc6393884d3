// True when notebook `id`'s kernel is idle and no cell shows [*] (still queued or running).
(id) => {
  const w = window.__gl[id].widget;
  const k = w.sessionContext.session?.kernel;
  if (!k || k.status !== 'idle') return false;
  return ![...w.content.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .some((p) => p.textContent.includes('*'));
}
