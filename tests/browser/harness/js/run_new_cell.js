// Insert a code cell at the end of open notebook `id` and run it, as a user would.
async ([id, source]) => {
  const app = window.jupyterapp;
  const panel = window.__gl[id].widget;
  app.shell.activateById(id);
  const model = panel.content.model;
  model.sharedModel.insertCell(model.cells.length, {cell_type: 'code', source});
  panel.content.activeCellIndex = model.cells.length - 1;
  await app.commands.execute('notebook:run-cell');
}
