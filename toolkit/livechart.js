// LiveChart front end: one Vega view per widget view, fed with changesets.
// `vegaEmbed` is provided by the offline bundle that vl-convert builds around this file.
// Rows carry an increasing id `_i`; a new `epoch` means "replace everything".

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "gl-livechart";
  el.appendChild(box);
  let view = null;
  let epoch = -1;
  let lastId = -1;
  let queue = Promise.resolve();
  let redraws = 0;

  function mark() {
    redraws += 1;
    box.dataset.glRedraws = String(redraws);
    box.dataset.glUpdated = String(performance.now());
  }

  function syncRows() {
    if (!view) return;
    try {
      view.data("data"); // a chart whose marks all use their own data has no "data" source
    } catch (e) {
      return view.runAsync().then(mark);
    }
    const rows = model.get("rows");
    const newEpoch = model.get("epoch");
    const cs = view.changeset();
    if (newEpoch !== epoch) {
      cs.remove(() => true).insert(rows.map((r) => ({ ...r })));
    } else {
      const first = rows.length ? rows[0]._i : Infinity;
      cs.remove((d) => d._i < first);
      cs.insert(rows.filter((r) => r._i > lastId).map((r) => ({ ...r })));
    }
    epoch = newEpoch;
    lastId = rows.length ? rows[rows.length - 1]._i : lastId;
    view.change("data", cs);
    // resize(): concatenated charts laid out with empty data otherwise keep a runaway size
    return view.resize().runAsync().then(mark);
  }

  async function embed() {
    const spec = JSON.parse(JSON.stringify(model.get("spec")));
    if (view) view.finalize();
    view = null;
    box.innerHTML = "";
    if (!spec || Object.keys(spec).length === 0) return;
    const result = await vegaEmbed(box, spec, {
      renderer: model.get("renderer"),
      actions: { export: true, source: false, compiled: false, editor: false },
    });
    view = result.view;
    epoch = -1;
    lastId = -1;
    await syncRows();
  }

  function enqueue(task) {
    queue = queue.then(task).catch((err) => {
      box.dataset.glError = String(err);
      console.error("LiveChart:", err);
    });
  }

  model.on("change:spec", () => enqueue(embed));
  model.on("change:rows", () => enqueue(syncRows));
  enqueue(embed);
  return () => {
    if (view) view.finalize();
  };
}

export default { render };
