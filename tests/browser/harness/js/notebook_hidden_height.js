// Scroll notebook `id` to the top and return how many px of its cells are below the fold.
(id) => {
  const nb = window.__gl[id].widget.content.node;
  const outer = nb.querySelector('.jp-WindowedPanel-outer') || nb;
  outer.scrollTop = 0;
  const cells = nb.querySelectorAll('.jp-Cell');
  const last = cells.length ? cells[cells.length - 1].getBoundingClientRect().bottom : 0;
  return {below: last - outer.getBoundingClientRect().bottom};
}
