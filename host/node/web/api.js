// Shared by the node's pages: requests (with the API key, when one is set), Server-Sent Events
// read through fetch (so the key travels as a header), input encoding and formatting.

const KEY = 'obelysk-api-key';

/** The API key this browser sends, or ''. */
export function apiKey() {
  return localStorage.getItem(KEY) || '';
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key.trim());
  else localStorage.removeItem(KEY);
}

/** An error the node answered with: `code` and `message` from its JSON body. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

/** `fetch` of `base + path`; resolves to the JSON body, or throws an ApiError. */
export async function api(path, { method = 'GET', body, type, base = '' } = {}) {
  const init = { method, headers: headers(type ? { 'Content-Type': type } : {}) };
  if (body !== undefined) init.body = body;
  let response;
  try {
    response = await fetch(base + path, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable', `cannot reach the node: ${e.message}`);
  }
  return answer(response);
}

/** The bytes of `base + path` (a module or a proof file), or throws an ApiError. */
export async function bytes(path, base = '') {
  let response;
  try {
    response = await fetch(base + path, { headers: headers() });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `cannot reach ${base || 'the node'}: ${e.message}`);
  }
  if (!response.ok) await answer(response);
  return new Uint8Array(await response.arrayBuffer());
}

async function answer(response) {
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!response.ok) {
    const error = json && json.error;
    throw new ApiError(
      response.status,
      error ? error.code : `http_${response.status}`,
      error ? error.message : `HTTP ${response.status}`,
    );
  }
  return json;
}

/**
 * Reads the event stream at `path`, calling `onEvent(name, data)` for each event, and
 * reconnects (after 1 s, then up to 10 s) until `signal` aborts it or `onEvent` returns
 * `'stop'`. `onState(connected)` reports the connection.
 */
export async function follow(path, onEvent, { signal, onState = () => {} } = {}) {
  let delay = 1000;
  while (!(signal && signal.aborted)) {
    try {
      const response = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal });
      if (!response.ok) {
        await answer(response);
      }
      onState(true);
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) name = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length === 0) continue;
          let parsed;
          try {
            parsed = JSON.parse(data.join('\n'));
          } catch {
            continue;
          }
          if (onEvent(name, parsed) === 'stop') {
            reader.cancel().catch(() => {});
            return;
          }
        }
      }
    } catch (e) {
      if (signal && signal.aborted) return;
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
        onState(false, e);
        return;
      }
    }
    onState(false);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

/** Text as the guest SDK's `pack_bytes` lays it out: its UTF-8 length, then 4 bytes a word. */
export function packText(text) {
  const utf8 = new TextEncoder().encode(text);
  const words = [utf8.length];
  for (let i = 0; i < utf8.length; i += 4) {
    let word = 0;
    for (let j = 3; j >= 0; j--) word = word * 256 + (utf8[i + j] || 0);
    words.push(word);
  }
  return words;
}

/** `1, 2, 0x10` (commas or spaces) as u32 words; throws on anything else. */
export function parseWords(text) {
  const words = [];
  for (const part of text.split(/[\s,]+/)) {
    if (!part) continue;
    const hex = /^0x[0-9a-f]{1,8}$/i.test(part);
    const value = hex ? parseInt(part.slice(2), 16) : /^\d+$/.test(part) ? Number(part) : NaN;
    if (!Number.isSafeInteger(value) || value > 0xffffffff) {
      throw new Error(`input word \`${part}\` is not a u32 (decimal or 0x-hex)`);
    }
    words.push(value);
  }
  return words;
}

/** The text a packed payload holds, when the words are one (else null). */
export function unpackText(words) {
  if (!words || words.length === 0 || Math.ceil(words[0] / 4) !== words.length - 1) return null;
  const bytes = new Uint8Array(words[0]);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (words[1 + (i >> 2)] >>> (8 * (i & 3))) & 255;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return /^[\P{C}\n\t]*$/u.test(text) ? text : null;
  } catch {
    return null;
  }
}

export function formatBytes(n) {
  if (n == null) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

export function formatMs(ms) {
  if (ms == null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

export function formatCount(n) {
  if (n == null) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Words as a short list: the first `limit`, then how many more. */
export function formatWords(words, limit = 16) {
  if (!words) return '–';
  const shown = words.slice(0, limit).join(', ');
  return words.length > limit ? `[${shown}, … ${words.length - limit} more]` : `[${shown}]`;
}

/** An element: `el('td', {class: 'x'}, 'text', child)`. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Lets `zone` take a dropped file, handed to `onFile`; clicking it opens `input`. */
export function dropZone(zone, input, onFile) {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) onFile(file);
  });
  input.addEventListener('change', () => {
    if (input.files[0]) onFile(input.files[0]);
  });
}
