// Arm timers for one keyboard move of a slider: t0 at keydown on the handle, t1 at the chart's
// next redraw (read from its data-gl-updated, i.e. when vega-embed finished drawing).
([handle, chart]) => {
  /* include: slider_value */
  /* include: chart_picture */
  const st = {t0: null, t1: null, redraws0: Number(chart.dataset.glRedraws || 0), value0: sliderValue(handle)};
  st.picture0 = chartPicture(chart);
  const onKey = () => { if (st.t0 === null) st.t0 = performance.now(); };
  handle.addEventListener('keydown', onKey, {capture: true, once: true});
  const obs = new MutationObserver(() => {
    if (st.t1 === null && Number(chart.dataset.glRedraws || 0) > st.redraws0) {
      st.t1 = Number(chart.dataset.glUpdated);
      st.redraws1 = Number(chart.dataset.glRedraws);
      obs.disconnect();
    }
  });
  obs.observe(chart, {attributes: true, attributeFilter: ['data-gl-redraws']});
  window.__glMove = st;
}
