// LiveChart front end. `vegaEmbed` is provided by the offline bundle that vl-convert builds around this file.
//
// Rows never travel as widget state: the kernel sends custom messages (see LiveChart's docstring),
// "replace" (all rows, new epoch, or a snapshot addressed to one front end) and "append" (only the
// new rows). Each row gets an increasing id `_i`. One *store* per widget model holds the newest
// `cap` rows; every view of the model (a second display(), a re-rendered output) draws from it and
// applies only the difference to its Vega view as a changeset, so a push costs the same at row
// 20,000 as at row 100. A store that starts late or sees a gap asks the kernel for a snapshot.

const STORES = globalThis.__glLiveChartStores || (globalThis.__glLiveChartStores = new Map());

function makeStore(model) {
  const store = {
    gen: 0, // bumped by every replace or snapshot: views then redraw everything
    epoch: null,
    rows: [], // the newest `cap` rows from index `head` on (dropping from the front is O(1))
    head: 0,
    lastId: -1,
    total: 0, // rows the kernel holds; total > shown means older rows are not drawn
    cap: Infinity,
    syncing: false, // a sync request is on its way
    stale: false, // a message was missed: the next answer must be a full snapshot
    token: Math.random().toString(36).slice(2),
    views: new Set(),
  };

  // full = false asks only for the kernel's (epoch, total): when that answer arrives, every earlier
  // message has arrived too, so the rows are fetched only if this store really lacks some
  function requestSync(full) {
    if (full) store.stale = true;
    if (store.syncing) return; // the pending answer will see `stale`
    store.syncing = true;
    model.send({ kind: "sync", token: store.token, full: store.stale });
  }

  function take(msg) {
    const rows = msg.rows;
    for (let k = 0; k < rows.length; k++) rows[k]._i = msg.first + k; // fresh JSON: ours to tag
    store.total = msg.total;
    store.cap = msg.cap;
    return rows;
  }

  function trim() {
    const excess = store.rows.length - store.head - store.cap;
    if (excess > 0) store.head += excess;
    if (store.head > 1024 && store.head * 2 > store.rows.length) {
      store.rows = store.rows.slice(store.head);
      store.head = 0;
    }
  }

  store.onMessage = (msg) => {
    if (!msg || typeof msg !== "object") return;
    store.received = performance.now(); // benchmarks: message in -> view redrawn
    if (msg.to != null && msg.to !== store.token) return; // an answer to another front end
    if (msg.kind === "state") {
      store.syncing = false;
      if (!store.stale && msg.total === 0 && store.rows.length === store.head) {
        store.epoch = msg.epoch; // nothing drawn on either side: nothing to fetch
        store.total = 0;
        store.lastId = msg.last;
      } else if (store.stale || msg.epoch !== store.epoch || msg.total !== store.total) {
        requestSync(true);
      }
      return;
    }
    if (msg.kind === "replace") {
      if (msg.to === store.token) store.syncing = store.stale = false;
      store.rows = take(msg);
      store.head = 0;
      store.epoch = msg.epoch;
      store.gen += 1;
      store.lastId = msg.first + msg.rows.length - 1; // ids go on after an empty replace too
    } else if (msg.kind === "append") {
      if (store.epoch !== null && msg.epoch < store.epoch) return; // stale
      const rows = take(msg);
      if (msg.epoch !== store.epoch) {
        // we missed the replace that started this epoch: draw what we have, ask for the rest
        store.rows = rows;
        store.head = 0;
        store.epoch = msg.epoch;
        store.gen += 1;
        requestSync(true);
      } else {
        if (msg.after !== store.lastId) requestSync(true); // a gap: keep drawing, the snapshot fills it in
        for (const r of rows) store.rows.push(r);
      }
      store.lastId = msg.first + rows.length - 1;
    } else {
      return;
    }
    trim();
    for (const notify of store.views) notify();
  };
  store.requestSync = requestSync;
  return store;
}

function storeFor(model) {
  const key = model.get("_uid");
  let store = STORES.get(key);
  if (!store) {
    store = makeStore(model);
    STORES.set(key, store);
    model.on("msg:custom", (msg) => store.onMessage(msg));
    store.requestSync(false); // rows are not in the widget state: check we have what is drawn now
  }
  return store;
}

function initialize({ model }) {
  const key = model.get("_uid");
  storeFor(model);
  return () => STORES.delete(key);
}

function render({ model, el }) {
  const store = storeFor(model);
  const box = document.createElement("div");
  box.className = "gl-livechart";
  const note = document.createElement("div");
  note.className = "gl-livechart-note";
  note.setAttribute("role", "status");
  note.hidden = true;
  el.appendChild(box);
  el.appendChild(note);
  let view = null;
  let gen = -1; // the store generation this view has drawn
  let lastId = -1;
  let tuples = []; // what this view inserted, oldest first from `head` (Vega removes by object)
  let head = 0;
  let queue = Promise.resolve();
  let pending = false;
  let redraws = 0;

  function mark() {
    redraws += 1;
    box.dataset.glRedraws = String(redraws);
    box.dataset.glUpdated = String(performance.now());
  }

  function showNote() {
    const shown = store.rows.length - store.head;
    const hidden = store.total - shown;
    note.hidden = !(hidden > 0);
    if (hidden > 0) {
      note.textContent =
        `Showing the newest ${shown.toLocaleString("en")} of ${store.total.toLocaleString("en")} rows ` +
        `(max_rows=${store.cap}); all rows stay in the kernel (LiveChart.history).`;
    }
  }

  function syncRows() {
    pending = false;
    showNote();
    if (!view) return;
    try {
      view.data("data"); // a chart whose marks all use their own data has no "data" source
    } catch (e) {
      return view.runAsync().then(mark);
    }
    const rows = store.rows;
    const cs = view.changeset();
    if (gen !== store.gen) {
      tuples = rows.slice(store.head).map((r) => ({ ...r }));
      head = 0;
      cs.remove(() => true).insert(tuples);
    } else {
      const firstId = rows.length > store.head ? rows[store.head]._i : Infinity;
      const gone = [];
      while (head < tuples.length && tuples[head]._i < firstId) gone.push(tuples[head++]);
      if (head > 1024 && head * 2 > tuples.length) {
        tuples = tuples.slice(head);
        head = 0;
      }
      let k = rows.length;
      while (k > store.head && rows[k - 1]._i > lastId) k--;
      const fresh = [];
      for (let j = k; j < rows.length; j++) fresh.push({ ...rows[j] });
      for (const t of fresh) tuples.push(t);
      if (gone.length) cs.remove(gone);
      cs.insert(fresh);
    }
    gen = store.gen;
    lastId = store.lastId;
    view.change("data", cs);
    box.dataset.glRows = String(tuples.length - head);
    box.dataset.glReceived = String(store.received);
    // resize(): concatenated charts laid out with empty data otherwise keep a runaway size (it costs
    // a re-layout per push; kept, because a facet can appear with a later push)
    return view.resize().runAsync().then(mark);
  }

  async function embed() {
    const spec = JSON.parse(JSON.stringify(model.get("spec")));
    if (view) view.finalize();
    view = null;
    box.__glView = null;
    box.innerHTML = "";
    if (!spec || Object.keys(spec).length === 0) return;
    const result = await vegaEmbed(box, spec, {
      renderer: model.get("renderer"),
      actions: { export: true, source: false, compiled: false, editor: false },
    });
    view = result.view;
    box.__glView = view; // tests read the drawn rows: box.__glView.data("data")
    gen = -1;
    lastId = -1;
    await syncRows();
  }

  function enqueue(task) {
    queue = queue.then(task).catch((err) => {
      box.dataset.glError = String(err);
      console.error("LiveChart:", err);
    });
  }

  function onRows() {
    if (pending) return; // one queued sync draws everything that arrived meanwhile
    pending = true;
    enqueue(syncRows);
  }

  store.views.add(onRows);
  model.on("change:spec", () => enqueue(embed));
  enqueue(embed);
  return () => {
    store.views.delete(onRows);
    if (view) view.finalize();
  };
}

export default { initialize, render };
