// The dashboard's page: polls /ui/api/overview every 2 s and draws the nodes,
// the ring, membership changes and anti-entropy, this node's requests and
// background work; the file browser uses
// the usual REST routes (GET /buckets, GET /buckets/<b>, GET /buckets/<b>/<f>,
// POST /buckets/<b>, POST /buckets/<b>/files). Plain JavaScript, no build step.
const POLL_MS = 2000;
const COLORS = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#d53f8c', '#319795', '#b7791f', '#e53e3e', '#4a5568', '#00a3c4'];

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const enc = encodeURIComponent;
const say = (text) => ($('#message').textContent = text);

let colorOf = new Map();
let selectedBucket = null;
let selectedFile = null;

async function json(url, init) {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => null);
  return { status: res.status, body, headers: res.headers };
}

// ---- the cluster ---------------------------------------------------------

function drawNodes(o) {
  $('#status-from').textContent = `(as ${o.node} sees them, from ${o.statusFrom})`;
  const box = $('#nodes');
  const cards = o.nodes.map((n) =>
    el(
      'div',
      { class: 'node', dataset: { node: n.id, status: n.status } },
      el('div', { class: 'id' }, n.id, n.id === o.node ? ' (this node)' : ''),
      el('div', { class: 'status' }, n.status),
      el('div', { class: 'addr' }, `${n.host}:${n.restPort}`),
      el('div', { class: 'role' }, n.role === 'member' ? `${n.partitions} partitions` : n.role),
      el('div', { class: 'hints' }, o.hints[n.id] ? `${o.hints[n.id]} hinted copies held here` : ''),
    ),
  );
  box.replaceChildren(...cards);
}

function drawRing(o) {
  const ids = o.nodes.map((n) => n.id);
  colorOf = new Map(ids.map((id, i) => [id, COLORS[i % COLORS.length]]));
  const svg = $('#ring');
  const q = o.ring.partitions;
  const parts = [];
  for (let p = 0; p < q; p++) {
    const a0 = (p / q) * 2 * Math.PI - Math.PI / 2;
    const a1 = ((p + 1) / q) * 2 * Math.PI - Math.PI / 2;
    const r0 = 70;
    const r1 = 100;
    const pt = (r, a) => `${(r * Math.cos(a)).toFixed(2)} ${(r * Math.sin(a)).toFixed(2)}`;
    const owner = o.ring.owners[p];
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', `M ${pt(r0, a0)} L ${pt(r1, a0)} A ${r1} ${r1} 0 0 1 ${pt(r1, a1)} L ${pt(r0, a1)} A ${r0} ${r0} 0 0 0 ${pt(r0, a0)} Z`);
    path.setAttribute('fill', colorOf.get(owner) ?? '#ccc');
    path.setAttribute('stroke', '#fff');
    path.setAttribute('stroke-width', '0.3');
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = `partition ${p}: ${owner}`;
    path.append(title);
    parts.push(path);
  }
  const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  label.setAttribute('text-anchor', 'middle');
  label.setAttribute('font-size', '11');
  label.setAttribute('y', '4');
  label.textContent = `Q=${q}, N=${o.n}`;
  parts.push(label);
  svg.replaceChildren(...parts);
  const counts = new Map();
  for (const owner of o.ring.owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  // Coloured by each partition's first owner; a member holds N replicas in all (the count GET /cluster shows).
  $('#legend').replaceChildren(
    ...o.nodes.map((n) => el('li', { title: `first owner of ${counts.get(n.id) ?? 0} partitions` }, el('i', { style: `background:${colorOf.get(n.id)}` }), `${n.id}: ${n.partitions} partitions`)),
  );
}

const ago = (iso) => {
  if (!iso) return 'not yet';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
};
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function drawChange(o) {
  const t = o.transfers;
  const layouts = o.live_layouts.length > 1 ? `; layouts ${o.live_layouts.join(', ')} live while partitions move` : '';
  $('#change').dataset.settled = String(o.settled);
  $('#change').textContent = `epoch ${o.epoch}, ${o.settled ? 'settled' : 'moving partitions'}${layouts}`;
  $('#transfers').textContent = `transfers into this node: ${t.pending} pending, ${t.done} done, ${t.keys} keys, ${mib(t.bytes)}${t.epoch ? ` (epoch ${t.epoch})` : ''}`;
  const rows = o.nodes.map((n) =>
    el('tr', {}, el('td', {}, n.id), el('td', {}, n.role), el('td', { class: 'num' }, n.partitions), el('td', {}, ago(n.anti_entropy.last_round)), el('td', { class: 'num' }, n.anti_entropy.repaired)),
  );
  $('#repair tbody').replaceChildren(...rows);
}

function drawRequests(o) {
  const rows = o.requests.map((r) =>
    el('tr', {}, el('td', {}, `${r.method} ${r.route}`), el('td', { class: 'num' }, r.rate), el('td', { class: 'num' }, r.p50), el('td', { class: 'num' }, r.p95), el('td', { class: 'num' }, r.p99)),
  );
  $('#requests tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'no requests in the last minute'))]));
}

function drawWorkers(o) {
  const rows = (o.workers ?? []).map((w) =>
    el('tr', {}, el('td', {}, w.name), el('td', {}, w.state), el('td', { class: 'num' }, w.runs), el('td', {}, w.lastError ? `error: ${w.lastError}` : (w.lastResult ?? ''))),
  );
  $('#workers tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'the scheduler has not reported yet'))]));
  const hints = Object.entries(o.hints ?? {});
  $('#hints').textContent = hints.length ? hints.map(([owner, n]) => `${n} for ${owner}`).join(', ') : 'none';
}

async function refresh() {
  try {
    const { status, body } = await json('/ui/api/overview');
    if (status !== 200 || !body) throw new Error(`overview answered ${status}`);
    $('#summary').textContent = `as seen by ${body.node} · N=${body.n} R=${body.r} W=${body.w} · ${body.nodes.filter((n) => n.status === 'up').length} of ${body.nodes.length} nodes up · epoch ${body.epoch}${body.settled ? '' : ' (moving)'}`;
    drawNodes(body);
    drawRing(body);
    drawChange(body);
    drawRequests(body);
    drawWorkers(body);
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $('#updated').textContent = `cannot reach this node: ${err.message}`;
  }
}

// ---- the files -----------------------------------------------------------

async function loadBuckets() {
  const { status, body } = await json('/buckets');
  if (status !== 200) return say(body?.error?.message ?? `listing buckets answered ${status}`);
  const items = body.buckets.map((b) =>
    el('li', { class: b.name === selectedBucket ? 'selected' : '', dataset: { bucket: b.name }, onclick: () => openBucket(b.name) }, b.name),
  );
  $('#buckets').replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, 'no buckets yet')]));
}

async function openBucket(name) {
  selectedBucket = name;
  selectedFile = null;
  $('#upload').hidden = false;
  $('#files-title').textContent = `Files in ${name}`;
  $('#versions').replaceChildren('choose a file');
  await loadBuckets();
  await loadFiles();
}

async function loadFiles() {
  if (!selectedBucket) return;
  const { status, body } = await json(`/buckets/${enc(selectedBucket)}`);
  if (status !== 200) return say(body?.error?.message ?? `listing ${selectedBucket} answered ${status}`);
  const rows = body.files.map((f) =>
    el(
      'tr',
      { class: `file${f.name === selectedFile ? ' selected' : ''}`, dataset: { file: f.name }, onclick: () => openFile(f.name) },
      el('td', {}, f.name),
      el('td', { class: 'num' }, f.size),
      el('td', { class: 'num' }, f.siblings),
      el('td', {}, new Date(f.last_modified).toLocaleString()),
    ),
  );
  $('#files tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'no files'))]));
}

function versionBox(v, url) {
  return el(
    'div',
    { class: 'version' },
    el('div', {}, el('code', {}, v.version), v.deleted ? ' (deleted)' : ''),
    el('div', { class: 'muted' }, `${v.size} bytes · ${new Date(v.last_modified).toLocaleString()}`),
    el('div', {}, 'clock ', el('code', {}, JSON.stringify(v.clock))),
    v.deleted ? '' : el('a', { href: url, download: '' }, 'download'),
  );
}

async function openFile(name) {
  selectedFile = name;
  const url = `/buckets/${enc(selectedBucket)}/${enc(name)}`;
  $('#versions-title').textContent = `Versions of ${name}`;
  const res = await fetch(url, { method: 'GET' });
  if (res.status === 300) {
    const body = await res.json();
    $('#versions').replaceChildren(
      el('p', {}, `${body.siblings.length} concurrent versions (siblings): a write with this read's context resolves them.`),
      ...body.siblings.map((s) => versionBox(s, `${url}?version=${enc(s.version)}`)),
    );
  } else if (res.status === 200) {
    const size = Number(res.headers.get('content-length') ?? 0);
    await res.body?.cancel();
    $('#versions').replaceChildren(
      versionBox({ version: res.headers.get('x-version'), size, deleted: false, last_modified: res.headers.get('last-modified'), clock: contextOf(res.headers.get('x-context')) }, url),
    );
  } else {
    const body = await res.json().catch(() => null);
    $('#versions').replaceChildren(body?.error?.message ?? `answered ${res.status}`);
  }
  await loadFiles();
}

/** The version vector inside a context token (its payload is base64url JSON; the MAC after the dot is the server's). */
function contextOf(token) {
  try {
    const payload = token.slice(0, token.lastIndexOf('.')).replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

$('#new-bucket').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = new FormData(e.target).get('bucket');
  const { status, body } = await json(`/buckets/${enc(name)}`, { method: 'POST' });
  say(status === 200 ? (body.created === false ? `bucket ${name} exists already` : `created bucket ${name}`) : body?.error?.message ?? `answered ${status}`);
  e.target.reset();
  if (status === 200) await openBucket(name);
});

$('#upload').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!selectedBucket) return;
  const form = new FormData(e.target);
  const file = form.get('file');
  say(`uploading ${file.name}…`);
  const { status, body } = await json(`/buckets/${enc(selectedBucket)}/files`, { method: 'POST', body: form });
  say(status === 200 ? `stored ${selectedBucket}/${body.file}: version ${body.version} on ${body.replicas_written.join(', ')}` : body?.error?.message ?? `answered ${status}`);
  e.target.reset();
  await loadFiles();
});

await refresh();
await loadBuckets();
setInterval(refresh, POLL_MS);
setInterval(() => {
  void loadBuckets();
  void loadFiles();
}, POLL_MS);
