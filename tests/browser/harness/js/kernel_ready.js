// True when notebook `id` has a connected, idle kernel.
(id) => {
  const k = window.__gl[id].widget.sessionContext.session?.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}
