// True when the LiveCharts under `root` are exactly `want.length` views holding want[i] rows each.
([root, want]) => {
  const boxes = [...document.querySelectorAll(root + ' .gl-livechart')];
  return boxes.length === want.length && boxes.every((b, i) =>
    b.__glView && b.__glView.data('data').length === want[i]);
}
