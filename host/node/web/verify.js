// The browser verifier's page: a module and a proof file (dropped, or fetched from a node by
// job id) are checked by the Obelysk verifier compiled to WebAssembly, in this page.
import init, { verify, versions } from './obelysk_web_verifier.js';
import { api, bytes, el, dropZone, formatBytes, formatWords, unpackText } from './api.js';

const $ = (id) => document.getElementById(id);
const inputs = { module: null, proof: null }; // { name, bytes }
let fromNode = null; // the job record when both files came from a node
let ready = false;

function setFile(kind, name, data) {
  inputs[kind] = { name, bytes: data };
  $(`${kind}-name`).textContent = `${name} (${formatBytes(data.length)})`;
  $('verify-btn').disabled = !(ready && inputs.module && inputs.proof);
}

function showVerdict(attributes, ...children) {
  const box = $('verdict');
  box.hidden = false;
  for (const key of Object.keys(box.dataset)) delete box.dataset[key];
  Object.assign(box.dataset, attributes);
  box.replaceChildren(...children);
}

function run() {
  if (!ready || !inputs.module || !inputs.proof) return;
  const minBits = Number($('min-bits').value) || 96;
  let report;
  const start = performance.now();
  try {
    report = JSON.parse(verify(inputs.module.bytes, inputs.proof.bytes, minBits));
  } catch (e) {
    // A trap inside the verifier: never a valid proof. Its memory may be left half-updated, so
    // this page verifies nothing more until it is reloaded.
    report = { valid: false, error: { code: 'verifier_trap', message: `the verifier stopped (${e.message}); reload the page to verify again` } };
    ready = false;
    $('verify-btn').disabled = true;
  }
  const ms = performance.now() - start;
  const time = ms < 10 ? ms.toFixed(2) : ms.toFixed(0);
  if (!report.valid) {
    showVerdict(
      { valid: 'false', code: report.error.code, ms: ms.toFixed(3) },
      el('h2', { class: 'bad' }, '✗ Not valid'),
      el('p', {}, el('code', {}, report.error.code), ' ', report.error.message),
      el('p', { class: 'sub' }, `Checked in ${time} ms, in this browser.`),
    );
    return;
  }
  const text = unpackText(report.output);
  const fields = [
    ['Output', formatWords(report.output, 64)],
    text !== null ? ['Output as text', text] : null,
    ['Input', formatWords(report.input, 64)],
    ['VM steps', report.steps],
    ['Security', `${report.security_bits} bits (preset); this proof ${report.soundness.bits} bits`],
    ['Program', report.program_id],
    ['Attestation', report.attestation],
    ['Proof hash', report.proof_hash],
    ['Verify time', `${time} ms in this browser`],
  ].filter(Boolean);
  const list = el('dl', { class: 'details' });
  for (const [name, value] of fields) list.append(el('dt', {}, name), el('dd', { class: 'mono' }, value));
  const notes = [];
  if (fromNode) {
    const same =
      fromNode.attestation === report.attestation &&
      JSON.stringify(fromNode.output) === JSON.stringify(report.output);
    notes.push(
      el('p', { class: same ? 'good' : 'bad', id: 'node-match' },
        same
          ? `The node's record of job ${fromNode.id} shows the same output and attestation.`
          : `The node's record of job ${fromNode.id} differs from what this proof proves.`),
    );
  }
  showVerdict(
    { valid: 'true', ms: ms.toFixed(3), steps: String(report.steps) },
    el('h2', { class: 'good' }, '✓ Valid proof'),
    el('p', {}, `The module ran for ${report.steps} steps and wrote the output below.`),
    list,
    ...notes,
  );
}

async function fetchJob() {
  const node = $('node-url').value.trim().replace(/\/+$/, '');
  const id = $('job-id').value.trim();
  if (!id) return showVerdict({}, el('p', { class: 'bad' }, 'Give a job id.'));
  const base = node ? `${node}/` : '';
  showVerdict({ fetching: id }, el('p', {}, `Fetching job ${id}…`));
  try {
    const job = await api(`jobs/${encodeURIComponent(id)}`, { base });
    const [module, proof] = await Promise.all([
      bytes(`plugins/${job.plugin}/module`, base),
      bytes(`jobs/${job.id}/proof.bin`, base),
    ]);
    setFile('module', `plugin ${job.plugin.slice(0, 12)}…`, module);
    setFile('proof', `${job.id}.proof`, proof);
    fromNode = job;
    run();
  } catch (e) {
    showVerdict({ error: e.code || 'fetch' }, el('p', { class: 'bad' }, `${e.code ? `${e.code}: ` : ''}${e.message}`));
  }
}

function fromFile(kind) {
  return async (file) => {
    setFile(kind, file.name, new Uint8Array(await file.arrayBuffer()));
    fromNode = null;
  };
}

async function start() {
  dropZone($('module-drop'), $('module-file'), fromFile('module'));
  dropZone($('proof-drop'), $('proof-file'), fromFile('proof'));
  $('verify-btn').addEventListener('click', run);
  $('fetch-btn').addEventListener('click', fetchJob);
  // Served by a node: fetch from it by default. A standalone copy names its node by hand.
  const params = new URLSearchParams(location.search);
  let servedByNode = false;
  if (location.protocol.startsWith('http')) {
    try {
      servedByNode = (await api('health')).status === 'ok';
    } catch {
      servedByNode = false;
    }
  }
  $('node-url').value = params.get('node') || (servedByNode ? new URL('.', location.href).href.replace(/\/$/, '') : '');
  $('node-nav').hidden = !servedByNode;
  const badge = $('verifier-state');
  try {
    // Fetched here, so that a node built without the verifier can say why.
    const wasm = await fetch(new URL('obelysk_web_verifier_bg.wasm', import.meta.url));
    if (!wasm.ok) {
      const body = await wasm.json().catch(() => null);
      throw new Error(body && body.error ? body.error.message : `HTTP ${wasm.status}`);
    }
    await init({ module_or_path: wasm });
    const v = JSON.parse(versions());
    badge.textContent = `verifier ready · AIR ${v.air}, IR ${v.ir}, format ${v.proof_format}`;
    badge.className = 'pill completed';
    ready = true;
    $('verify-btn').disabled = !(inputs.module && inputs.proof);
  } catch (e) {
    badge.textContent = 'verifier unavailable';
    badge.className = 'pill failed';
    showVerdict({ error: 'verifier_unavailable' }, el('p', { class: 'bad' }, `The verifier did not load: ${e.message}`));
    return;
  }
  document.body.dataset.ready = 'true';
  if (params.get('job')) {
    $('job-id').value = params.get('job');
    fetchJob();
  }
}

start();
