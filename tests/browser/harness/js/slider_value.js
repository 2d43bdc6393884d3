// What the student reads next to the slider (aria-valuenow is rounded to 1 decimal by noUiSlider).
// Pasted into arm_move.js and move_result.js.
const sliderValue = (handle) => {
  const readout = handle.closest('.widget-slider')?.querySelector('.widget-readout');
  return readout ? readout.textContent.trim() : handle.getAttribute('aria-valuetext');
};
