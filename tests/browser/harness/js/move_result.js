// What happened since arm_move.js: timestamps, redraw counts, the slider's value before and after,
// whether the drawn SVG changed, and any chart error.
([handle, chart]) => {
  /* include: slider_value */
  const st = window.__glMove;
  const svg = chart.querySelector('svg.marks');
  return {t0: st.t0, t1: st.t1, redraws0: st.redraws0, redraws1: st.redraws1 ?? null,
          value0: st.value0, value1: sliderValue(handle),
          svgChanged: !!svg && svg.innerHTML !== st.svg0, error: chart.dataset.glError || null};
}
