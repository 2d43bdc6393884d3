// What happened since arm_move.js: timestamps, redraw counts, the slider's value before and after,
// whether the drawn picture (SVG markup or canvas pixels) changed, and any chart error.
([handle, chart]) => {
  /* include: slider_value */
  /* include: chart_picture */
  const st = window.__glMove;
  const picture = chartPicture(chart);
  return {t0: st.t0, t1: st.t1, redraws0: st.redraws0, redraws1: st.redraws1 ?? null,
          value0: st.value0, value1: sliderValue(handle),
          svgChanged: picture !== '' && picture !== st.picture0, error: chart.dataset.glError || null};
}
