// The status page: jobs kept live by `GET /events`, the node's summary, workers and devices,
// the throughput chart, and submitting a job (upload, estimate, submit, follow).
import {
  api, apiKey, setApiKey, follow, packText, parseWords, unpackText, el, dropZone,
  formatBytes, formatMs, formatCount, formatWords,
} from './api.js';

const PAGE = 50;
let shown = PAGE; // how many jobs the list keeps (grows with "Show older jobs")
let cursor = null; // `next_cursor` of the oldest page read
const jobs = new Map(); // id → job, as `GET /jobs/{id}`
const proofs = new Map(); // id → proof record (or a pending promise)
const open = new Set(); // ids whose details are shown
let followedId = null;

const $ = (id) => document.getElementById(id);

// ---- jobs ----------------------------------------------------------------------------------

/** The status the list is filtered to, or ''. */
const filter = () => $('status-filter').value;

function query(limit, from) {
  const status = filter() ? `&status=${filter()}` : '';
  return `jobs?limit=${limit}${status}${from != null ? `&cursor=${from}` : ''}`;
}

/** Reads the newest `shown` jobs (of the filter's status) again. */
async function loadJobs() {
  const page = await api(query(Math.min(shown, 500)));
  jobs.clear();
  for (const job of page.jobs) jobs.set(job.id, job);
  cursor = page.next_cursor ?? null;
  renderJobs();
}

/** The next page of older jobs, kept below the ones shown. */
async function loadOlder() {
  if (cursor == null) return;
  const page = await api(query(PAGE, cursor));
  for (const job of page.jobs) if (!jobs.has(job.id)) jobs.set(job.id, job);
  shown += page.jobs.length;
  cursor = page.next_cursor ?? null;
  renderJobs();
}

function upsert(list) {
  for (const job of list) {
    if (!filter() || job.status === filter()) jobs.set(job.id, job);
    else if (job.id !== followedId) jobs.delete(job.id); // it left the filter's status
  }
  const newest = [...jobs.values()].sort(byNewest);
  for (const job of newest.slice(shown)) if (job.id !== followedId) jobs.delete(job.id);
  renderJobs();
  if (list.some((j) => j.status === 'completed')) refreshThroughputSoon();
}

const byNewest = (a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0);

function renderJobs() {
  const body = $('jobs').tBodies[0];
  const rows = [];
  for (const job of [...jobs.values()].sort(byNewest)) {
    rows.push(jobRow(job));
    if (open.has(job.id)) rows.push(detailRow(job));
  }
  body.replaceChildren(...rows);
  $('jobs-empty').hidden = jobs.size > 0;
  $('jobs-note').textContent = jobs.size ? `newest ${jobs.size}${filter() ? ` ${filter()}` : ''}` : '';
  $('older-btn').hidden = cursor == null;
}

function jobRow(job) {
  const proof = proofOf(job);
  const progress = el('progress', { max: 100, value: job.progress, title: `${job.progress}%` });
  const chain = job.chain ? job.chain.state : job.attestation ? 'attested' : '–';
  return el(
    'tr',
    {
      'data-id': job.id,
      'data-status': job.status,
      class: `job ${job.id === followedId ? 'followed' : ''}`,
      onclick: () => {
        open.has(job.id) ? open.delete(job.id) : open.add(job.id);
        renderJobs();
      },
    },
    el('td', { class: 'mono', title: job.id }, job.id.slice(0, 8)),
    el('td', { class: 'mono', title: job.plugin }, job.plugin.slice(0, 8)),
    el('td', {}, el('span', { class: `pill ${job.status}` }, job.status)),
    el('td', { class: 'progress-cell' }, progress, el('span', { class: 'phase' }, job.phase || (job.status === 'completed' ? 'done' : ''))),
    el('td', { class: 'wide num' }, formatCount(job.vm_steps)),
    el('td', { class: 'wide mono output' }, job.error ? job.error.code : formatWords(job.output, 4)),
    el('td', { class: 'wide num' }, proof ? formatMs(proof.prove_ms) : '–'),
    el('td', { class: 'wide num' }, proof ? formatBytes(proof.size) : '–'),
    el('td', { class: 'wide' }, chain),
  );
}

function detailRow(job) {
  const proof = proofOf(job);
  const text = unpackText(job.output);
  const fields = [
    ['Job', job.id],
    ['Plugin', job.plugin],
    ['Status', `${job.status}${job.phase ? ` (${job.phase})` : ''}, ${job.progress}%`],
    ['Output', job.output ? formatWords(job.output, 64) : '–'],
    text !== null ? ['Output as text', text] : null,
    ['VM steps', job.vm_steps ?? '–'],
    ['Fuel used', job.fuel_used ?? '–'],
    job.error ? ['Error', `${job.error.code}: ${job.error.message}`] : null,
    proof ? ['Prove time', formatMs(proof.prove_ms)] : null,
    proof ? ['Verify time (node)', formatMs(proof.verify_ms)] : null,
    proof ? ['Proof size', formatBytes(proof.size)] : null,
    proof ? ['Security', `${proof.security_bits} bits`] : null,
    ['Attestation', job.attestation || '–'],
    job.chain ? ['On chain', `${job.chain.state}${job.chain.error ? ` (${job.chain.error})` : ''}`] : null,
    job.chain && job.chain.tx_hash ? ['Transaction', job.chain.tx_hash] : null,
    job.worker ? ['Worker', job.worker] : null,
    ['Created', job.created_at],
    job.finished_at ? ['Finished', job.finished_at] : null,
  ].filter(Boolean);
  const list = el('dl', { class: 'details' });
  for (const [name, value] of fields) list.append(el('dt', {}, name), el('dd', { class: 'mono' }, value));
  const links = el('p', { class: 'links' });
  if (job.status === 'completed' && job.prove) {
    links.append(
      el('a', { href: `jobs/${job.id}/proof.bin`, download: `${job.id}.proof` }, 'Download proof'),
      el('a', { href: `verify?job=${job.id}` }, 'Verify in this browser'),
    );
  }
  return el('tr', { class: 'detail', 'data-detail': job.id }, el('td', { colspan: 9 }, list, links));
}

/** The proof record of a completed proven job, fetched once (re-rendering when it arrives). */
function proofOf(job) {
  if (job.status !== 'completed' || !job.prove) return null;
  const known = proofs.get(job.id);
  if (known && !(known instanceof Promise)) return known;
  if (!known) {
    const pending = api(`jobs/${job.id}/proof`).then(
      (record) => {
        proofs.set(job.id, record);
        renderJobs();
      },
      () => proofs.delete(job.id),
    );
    proofs.set(job.id, pending);
  }
  return null;
}

// ---- the node, workers, devices ------------------------------------------------------------

function showNode(summary) {
  $('queue-depth').textContent = summary.queue_depth;
  if (summary.provers !== undefined) $('provers').textContent = `${summary.provers_busy} / ${summary.provers}`;
}

async function loadWorkers() {
  const [workers, gpu] = await Promise.all([api('workers'), api('gpu/status')]);
  const active = workers.filter((w) => w.state === 'active');
  $('workers-count').textContent = active.length;
  $('provers').textContent = `${gpu.busy_executors} / ${gpu.executors}`;
  $('backend').textContent = `busy / total, ${gpu.backend}`;
  $('gpus').textContent = gpu.total_devices;
  $('gpu-note').textContent = gpu.available ? `driver ${gpu.driver_version || ''}` : 'none on this node';
  $('workers').tBodies[0].replaceChildren(
    ...workers.map((w) =>
      el(
        'tr',
        { 'data-worker': w.id },
        el('td', { class: 'mono', title: w.id }, w.name || w.id.slice(0, 8)),
        el('td', {}, el('span', { class: `pill ${w.state}` }, w.quarantined_until ? 'quarantined' : w.state)),
        el('td', {}, w.backend),
        el('td', {}, w.devices.length ? w.devices.map((d) => `${d.name} (${formatBytes(d.memory_bytes)})`).join(', ') : 'CPU'),
        el('td', { class: 'num' }, w.jobs_done),
        el('td', { class: 'num' }, w.jobs_failed),
        el('td', { class: 'num' }, w.leases),
        el('td', {}, new Date(w.last_heartbeat).toLocaleTimeString()),
      ),
    ),
  );
  $('workers-empty').hidden = workers.length > 0;
  const devices = gpu.devices.map((d) =>
    el('li', {}, `GPU ${d.ordinal}: ${d.name}, ${formatBytes(d.memory_bytes)}, sm ${d.compute_capability.join('.')}`),
  );
  if (!gpu.available && gpu.reason) devices.push(el('li', { class: 'sub' }, `This node: no GPU (${gpu.reason}).`));
  $('devices').replaceChildren(...devices);
}

// ---- the throughput chart ------------------------------------------------------------------

let throughputTimer = null;
function refreshThroughputSoon() {
  if (throughputTimer) return;
  throughputTimer = setTimeout(() => {
    throughputTimer = null;
    loadThroughput().catch(() => {});
  }, 1000);
}

async function loadThroughput() {
  const series = await api('stats/throughput?minutes=60');
  drawChart(series);
}

function svg(tag, attributes, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

let lastSeries = null;
function drawChart(series) {
  lastSeries = series;
  const { since_ms: since, minutes } = series;
  // Drawn at the element's own width, so that text is never stretched.
  const W = Math.max(240, $('chart').clientWidth || 600), H = 160, top = 12, bottom = 18, n = 60, slot = W / n;
  $('chart').setAttribute('viewBox', `0 0 ${W} ${H}`);
  const jobsAt = new Array(n).fill(0), stepsAt = new Array(n).fill(0);
  for (const m of minutes) {
    const i = Math.round((m.start_ms - since) / 60000);
    if (i >= 0 && i < n) {
      jobsAt[i] = m.jobs;
      stepsAt[i] = m.proven_steps;
    }
  }
  const maxJobs = Math.max(1, ...jobsAt), maxSteps = Math.max(1, ...stepsAt);
  const y = (v, max) => top + (H - top - bottom) * (1 - v / max);
  const parts = [];
  for (let i = 0; i < n; i++) {
    if (!jobsAt[i]) continue;
    const yTop = y(jobsAt[i], maxJobs);
    parts.push(svg('rect', { class: 'bar', x: i * slot + 1, y: yTop, width: slot - 2, height: H - bottom - yTop },
      svg('title', {}, `${jobsAt[i]} jobs, ${stepsAt[i]} proven steps`)));
  }
  const points = stepsAt.map((v, i) => `${(i + 0.5) * slot},${y(v, maxSteps)}`).join(' ');
  parts.push(svg('polyline', { class: 'line', points }));
  parts.push(svg('line', { class: 'axis', x1: 0, x2: W, y1: H - bottom, y2: H - bottom }));
  parts.push(svg('text', { class: 'label', x: 2, y: 10 }, `${maxJobs} jobs/min`));
  parts.push(svg('text', { class: 'label steps', x: W - 2, y: 10, 'text-anchor': 'end' }, `${formatCount(maxSteps)} steps/min`));
  parts.push(svg('text', { class: 'label', x: 2, y: H - 4 }, '−60 min'));
  parts.push(svg('text', { class: 'label', x: W - 2, y: H - 4, 'text-anchor': 'end' }, 'now'));
  const total = jobsAt.reduce((a, b) => a + b, 0);
  if (total === 0) {
    parts.push(svg('text', { class: 'label', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no jobs completed in the last hour'));
  }
  $('chart').replaceChildren(...parts);
  const steps = stepsAt.reduce((a, b) => a + b, 0);
  $('chart-total').textContent = `· ${total} jobs, ${formatCount(steps)} proven steps in the hour`;
  $('chart').dataset.jobs = total;
}

// ---- submitting ----------------------------------------------------------------------------

let module = null; // { name, bytes }
let plugin = null; // the id the node gave `module`
let estimated = null; // the request the shown estimate is for

function requestBody() {
  const kind = document.querySelector('input[name="input-kind"]:checked').value;
  const raw = $('job-input').value;
  const input = kind === 'text' ? packText(raw) : parseWords(raw);
  return { plugin, input, prove: $('job-prove').checked };
}

function invalidate() {
  estimated = null;
  $('submit-btn').disabled = true;
}

function show(box, ...children) {
  box.hidden = false;
  box.replaceChildren(...children);
}

/** Shows the node's refusal; a missing or refused key opens the key box. */
function failed(box, e) {
  show(box, el('p', { class: 'bad' }, `${e.code ? `${e.code}: ` : ''}${e.message}`));
  if (e.status === 401 || e.status === 403) {
    box.append(el('p', { class: 'sub' }, 'Paste a client key under “API key”, save it, and try again.'));
    $('key-box').open = true;
  }
}

async function estimate() {
  const box = $('estimate');
  if (!module) return show(box, el('p', { class: 'bad' }, 'Choose a .wasm module first.'));
  $('estimate-btn').disabled = true;
  try {
    show(box, el('p', {}, `Uploading ${module.name}…`));
    const record = await api('plugins', { method: 'POST', body: module.bytes, type: 'application/wasm' });
    plugin = record.id;
    let body;
    try {
      body = requestBody();
    } catch (e) {
      return show(box, el('p', { class: 'bad' }, e.message));
    }
    show(box, el('p', {}, 'Running it in the sandbox…'));
    const quote = await api('jobs/estimate', { method: 'POST', body: JSON.stringify(body), type: 'application/json' });
    const rows = [
      ['Fits this node', quote.fits ? 'yes' : 'no'],
      quote.error ? ['Why not', `${quote.error.code}: ${quote.error.message}`] : null,
      ['Output', formatWords(quote.output, 16)],
      ['VM steps', quote.steps ?? (body.prove ? '–' : 'not proven')],
      quote.predicted_prove_ms != null ? ['Predicted prove time', formatMs(quote.predicted_prove_ms)] : null,
      quote.predicted_peak_memory_bytes != null
        ? ['Predicted memory', `${formatBytes(quote.predicted_peak_memory_bytes)} of ${formatBytes(quote.prover_memory_bytes)}`]
        : null,
      ['Provers busy', `${quote.provers_busy} of ${quote.provers}`],
    ].filter(Boolean);
    const list = el('dl', { class: 'details', 'data-fits': String(quote.fits) });
    for (const [name, value] of rows) list.append(el('dt', {}, name), el('dd', { class: 'mono' }, value));
    show(box, el('h3', {}, `Estimate for plugin ${plugin.slice(0, 12)}…`), list);
    estimated = JSON.stringify(body);
    $('submit-btn').disabled = !quote.fits;
  } catch (e) {
    failed(box, e);
  } finally {
    $('estimate-btn').disabled = false;
  }
}

async function submit() {
  if (!estimated) return;
  const box = $('followed');
  $('submit-btn').disabled = true;
  try {
    const accepted = await api('jobs', { method: 'POST', body: estimated, type: 'application/json' });
    followJob(accepted.id);
  } catch (e) {
    failed(box, e);
    $('submit-btn').disabled = false;
  }
}

function followJob(id) {
  followedId = id;
  open.add(id);
  const box = $('followed');
  const progress = el('progress', { max: 100, value: 0, id: 'followed-progress' });
  const state = el('span', { id: 'followed-status', class: 'pill' }, 'queued');
  const note = el('p', { id: 'followed-note', class: 'sub' });
  box.dataset.job = id;
  show(box, el('h3', {}, 'Job ', el('span', { class: 'mono' }, id)), el('div', { class: 'row' }, state, progress), note);
  const seen = [];
  follow(`jobs/${id}/events`, (name, job) => {
    if (name !== 'status') return undefined;
    upsert([job]);
    seen.push(job.progress);
    box.dataset.updates = String(seen.length);
    state.textContent = job.phase && job.status !== 'completed' ? `${job.status} · ${job.phase}` : job.status;
    state.className = `pill ${job.status}`;
    progress.value = job.progress;
    if (job.status === 'completed') {
      note.replaceChildren(
        `Output ${formatWords(job.output, 16)}. `,
        job.prove ? el('a', { href: `verify?job=${id}` }, 'Verify its proof in this browser') : '',
      );
    } else if (job.status === 'failed') {
      note.textContent = `${job.error.code}: ${job.error.message}`;
    }
    box.dataset.status = job.status;
    return job.status === 'completed' || job.status === 'failed' ? 'stop' : undefined;
  });
}

function setupSubmit() {
  dropZone($('module-drop'), $('module-file'), async (file) => {
    module = { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
    plugin = null;
    $('module-name').textContent = `${file.name} (${formatBytes(file.size)})`;
    invalidate();
  });
  for (const input of document.querySelectorAll('#job-input, input[name="input-kind"], #job-prove')) {
    input.addEventListener('input', invalidate);
    input.addEventListener('change', invalidate);
  }
  document.querySelectorAll('input[name="input-kind"]').forEach((radio) =>
    radio.addEventListener('change', () => {
      $('job-input').placeholder = radio.value === 'text' ? 'text, sent as UTF-8 packed into words' : 'u32 words: 10, 20, 0x1f';
    }),
  );
  $('estimate-btn').addEventListener('click', estimate);
  $('submit-btn').addEventListener('click', submit);
  const keyState = () => ($('key-state').textContent = apiKey() ? '(set)' : '(none)');
  $('save-key').addEventListener('click', () => {
    setApiKey($('api-key').value);
    $('api-key').value = '';
    keyState();
  });
  keyState();
}

// ---- start ---------------------------------------------------------------------------------

function live(connected) {
  const badge = $('live');
  badge.textContent = connected ? 'live' : 'reconnecting…';
  badge.className = `pill ${connected ? 'completed' : 'failed'}`;
  if (connected) loadJobs().catch(() => {});
}

setupSubmit();
$('status-filter').addEventListener('change', () => {
  shown = PAGE;
  loadJobs().catch((e) => ($('jobs-note').textContent = e.message));
});
$('older-btn').addEventListener('click', () => loadOlder().catch((e) => ($('jobs-note').textContent = e.message)));
window.addEventListener('resize', () => lastSeries && drawChart(lastSeries));
api('health').then(showNode, () => {});
loadJobs().catch((e) => ($('jobs-note').textContent = e.message));
loadWorkers().catch(() => {});
loadThroughput().catch(() => {});
setInterval(() => {
  loadWorkers().catch(() => {});
  loadThroughput().catch(() => {});
}, 10000);
follow('events', (name, data) => {
  if (name === 'jobs') upsert(data);
  else if (name === 'resync') loadJobs().catch(() => {});
  else if (name === 'node') showNode(data);
  return undefined;
}, { onState: live });
