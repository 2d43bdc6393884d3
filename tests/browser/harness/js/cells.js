// Every code cell of notebook `id` from the notebook model (JupyterLab may not render far cells),
// with its outputs and what the page shows for each output.
([id, widgetMime]) => {
  const w = window.__gl[id].widget;
  const cells = [];
  w.content.widgets.forEach((cell, index) => {
    const m = cell.model;
    if (m.type !== 'code') return;
    const source = m.sharedModel.getSource();
    const dom = cell.outputArea
      ? [...cell.outputArea.node.querySelectorAll(':scope > .jp-OutputArea-child > .jp-OutputArea-output')] : [];
    const outputs = m.outputs.toJSON().map((o, j) => ({
      type: o.output_type, ename: o.ename || null, evalue: o.evalue || null,
      widget: !!(o.data && o.data[widgetMime]),
      dom: dom[j] ? {mime: dom[j].dataset.mimeType || null, text: dom[j].textContent.slice(0, 300),
                     elements: dom[j].querySelectorAll('*').length} : null,
    }));
    const tags = (m.getMetadata ? m.getMetadata('tags') : m.metadata?.tags) || [];
    cells.push({index, source: source.slice(0, 120), empty: source.trim() === '',
                count: m.executionCount, tags, outputs});
  });
  return cells;
}
