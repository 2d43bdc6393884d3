// What the part of the page under `rootSel` shows: tracebacks (also inside widgets), errors shown by
// panels, every chart's state, widget failure texts, panels, sliders, visible code.
([rootSel, markItems, failureTexts]) => {
  const root = document.querySelector(rootSel);
  const text = root.innerText;
  const tracebacks = [...root.querySelectorAll('.jp-OutputArea-output')]
    .filter((o) => o.textContent.includes('Traceback (most recent call last)'))
    .map((o) => o.textContent.slice(0, 400));
  // outputs inside widgets (ipywidgets Output) are not in the notebook model
  const widgetTracebacks = [...root.querySelectorAll('.jp-OutputArea-output .jp-OutputArea-output')]
    .filter((o) => o.textContent.includes('Traceback (most recent call last)'))
    .map((o) => o.textContent.slice(0, 400));
  const panelErrors = [...root.querySelectorAll('.gl-panel pre')]
    .filter((p) => (p.getAttribute('style') || '').replace(/\s/g, '').includes('color:#b00'))
    .map((p) => p.textContent.slice(0, 300));
  const charts = [...root.querySelectorAll('.gl-livechart')].map((el, index) => {
    const svg = el.querySelector('svg.marks');
    const box = (svg || el).getBoundingClientRect();
    return {index, error: el.dataset.glError || null, redraws: Number(el.dataset.glRedraws || 0),
            width: Math.round(box.width), height: Math.round(box.height),
            inButtonPanel: !!el.closest('.gl-panel-button'), svg: !!svg,
            items: svg ? svg.querySelectorAll(markItems).length : 0,
            canvas: !!el.querySelector('canvas'), empty: el.childElementCount === 0};
  });
  return {
    widgetFailures: failureTexts.filter((t) => text.includes(t)),
    tracebacks, widgetTracebacks, panelErrors, charts,
    panels: root.querySelectorAll('.gl-panel').length,
    livePanels: root.querySelectorAll('.gl-panel.gl-panel-live').length,
    sliders: root.querySelectorAll('.noUi-handle').length,
    codeVisible: [...root.querySelectorAll('.cm-editor, .jp-CodeCell .jp-InputArea, .jp-InputPrompt')]
      .filter((e) => e.offsetParent !== null).length,
  };
}
