// True when `chart` has not redrawn for `quiet` ms (its data-gl-updated is a performance.now() stamp).
([chart, quiet]) => {
  const last = Number(chart.dataset.glUpdated || 0);
  return performance.now() - last > quiet;
}
