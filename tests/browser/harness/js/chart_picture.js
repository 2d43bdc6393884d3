// What a chart shows, to tell whether a redraw changed the picture: the SVG markup, or the canvas
// pixels for charts drawn on canvas (LiveChart renderer="canvas", e.g. the diffusion maps).
// Pasted into arm_move.js and move_result.js.
const chartPicture = (chart) => {
  const svg = chart.querySelector('svg.marks');
  if (svg) return svg.innerHTML;
  const canvas = chart.querySelector('canvas.marks');
  return canvas ? canvas.toDataURL() : '';
};
