// Shared by the wall panel, the overview and the room page: the token, the API, the
// live WebSocket that reconnects by itself, and the service's clock. Plain ES module,
// served as is (no build step), nothing loaded from anywhere but this server.

/**
 * The token reaches a page once in its address — `/panel/3F-301#token=…` (preferred:
 * the part after # is never sent to any server, so it cannot end up in a proxy's log)
 * or `?token=…` — and is then kept in localStorage under `storageKey` and removed from
 * the address bar and the history at once, so it is not on screen, in a bookmark or in
 * the next person's "back" button. A wall tablet is set up once and keeps its token
 * across sleeps, reloads and server restarts; a revoked token brings the prompt back.
 */
let watching = false;

/**
 * `{ token, empty }`: the token to use (just taken from the address, or kept from
 * before), and whether the address had `#token=` / `?token=` with nothing after it
 * (a link cut short) — the sign-in card says so instead of just asking again.
 */
export function takeToken(storageKey) {
  const url = new URL(location.href);
  const hash = new URLSearchParams(url.hash.slice(1));
  const present = hash.has('token') || url.searchParams.has('token');
  const fresh = (hash.get('token') || url.searchParams.get('token') || '').trim();
  if (present) {
    if (fresh) store.set(storageKey, fresh);
    url.searchParams.delete('token');
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(null, '', url.pathname + url.search + (rest ? `#${rest}` : ''));
  }
  if (!watching) {
    watching = true;
    // A new `#token=…` on the page already open is no navigation: take it and start again.
    window.addEventListener('hashchange', () => {
      if (!new URLSearchParams(location.hash.slice(1)).get('token')) return;
      takeToken(storageKey);
      location.reload();
    });
  }
  return { token: store.get(storageKey), empty: present && !fresh };
}

/** localStorage, or memory where it is refused (a locked-down kiosk browser). */
export const store = (() => {
  const memory = new Map();
  const prefix = 'roomctl.';
  return {
    get(key) {
      try {
        return localStorage.getItem(prefix + key) ?? memory.get(key) ?? null;
      } catch {
        return memory.get(key) ?? null;
      }
    },
    set(key, value) {
      memory.set(key, value);
      try {
        localStorage.setItem(prefix + key, value);
      } catch {
        /* memory only */
      }
    },
    remove(key) {
      memory.delete(key);
      try {
        localStorage.removeItem(prefix + key);
      } catch {
        /* memory only */
      }
    },
  };
})();

/** An API answer that was not 2xx: status 0 means the server could not be reached. */
export class ApiProblem extends Error {
  constructor(status, error, message) {
    super(message);
    this.status = status;
    this.error = error;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  get(path) {
    return this.request('GET', path);
  }

  post(path) {
    return this.request('POST', path);
  }

  async request(method, path) {
    let res;
    try {
      res = await fetch(path, { method, headers: { authorization: `Bearer ${this.token}` }, cache: 'no-store' });
    } catch (err) {
      throw new ApiProblem(0, 'network', String(err && err.message ? err.message : err));
    }
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiProblem(res.status, (body && body.error) || 'http', (body && body.message) || res.statusText);
    return body;
  }
}

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const PING_EVERY_MS = 15_000;
const PONG_WITHIN_MS = 8000;

/**
 * The live stream (`/api/v1/live`), kept open for as long as the page is. Every close
 * — the server restarting, the tablet sleeping, Wi-Fi gone — is followed by a new
 * attempt after a backoff (1 s doubling to 30 s, with jitter so a floor of tablets does
 * not reconnect in step). A socket can also die silently (a tablet that slept keeps a
 * half-open TCP connection for minutes): a ping every 15 s must be answered within 8 s
 * or the socket is dropped and replaced at once. Waking up (the page becomes visible,
 * the network comes back) retries at once instead of waiting out the backoff.
 *
 * `onOpen` runs on every (re)connection once the server has greeted us: that is where a
 * page re-fetches its state, since anything may have changed while it was away.
 * `stillAllowed` is asked when a connection fails before the greeting (a browser cannot
 * see the HTTP status of a refused upgrade): returning false stops the retries.
 */
export class Live {
  constructor({ token, params = {}, onFrame, onOpen, onStatus, stillAllowed }) {
    this.token = token;
    this.params = params;
    this.onFrame = onFrame;
    this.onOpen = onOpen || (() => {});
    this.onStatus = onStatus || (() => {});
    this.stillAllowed = stillAllowed || (async () => true);
    this.attempt = 0;
    this.stopped = true;
    this.greeted = false;
    this.wake = () => this.wakeUp();
  }

  start() {
    this.stopped = false;
    document.addEventListener('visibilitychange', this.wake);
    window.addEventListener('online', this.wake);
    window.addEventListener('pageshow', this.wake);
    this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    clearTimeout(this.retryTimer);
    clearTimeout(this.pongTimer);
    document.removeEventListener('visibilitychange', this.wake);
    window.removeEventListener('online', this.wake);
    window.removeEventListener('pageshow', this.wake);
    this.drop();
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.drop();
    const query = new URLSearchParams({ token: this.token, ...this.params });
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/v1/live?${query}`);
    this.ws = ws;
    this.greeted = false;
    this.status('connecting');
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      clearTimeout(this.pongTimer);
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === 'hello') {
        this.greeted = true;
        this.attempt = 0;
        this.status('live');
      }
      this.onFrame(frame);
      if (frame.type === 'snapshot') Promise.resolve(this.onOpen(frame)).catch(() => {});
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.closed(ev.code, this.greeted);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
  }

  /** Forgets the current socket without waiting for its close handshake (a dead socket may never finish one). */
  drop() {
    const ws = this.ws;
    this.ws = undefined;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
  }

  async closed(code, greeted) {
    clearTimeout(this.pongTimer);
    if (this.stopped) return;
    // 4001: the token was revoked or expired; 1008: refused by policy (room not in scope).
    if (code === 4001 || code === 1008 || !greeted) {
      const allowed = await this.stillAllowed().catch(() => true);
      if (!allowed) {
        this.stop();
        this.status('refused');
        return;
      }
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt) * (0.6 + Math.random() * 0.4);
    this.attempt++;
    this.retryAt = Date.now() + delay;
    this.status('offline');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.send({ type: 'ping' });
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => {
      // No answer: the socket is dead even if the browser has not noticed. Replace it now.
      this.drop();
      this.closed(1006, true);
    }, PONG_WITHIN_MS);
  }

  wakeUp() {
    if (this.stopped || document.visibilityState === 'hidden') return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ping();
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this.attempt = 0;
    this.connect();
  }

  status(state) {
    this.state = state;
    this.onStatus(state, this);
  }
}

/**
 * The service's clock as the page sees it. The demo runs on virtual time (N× real
 * time, or stepped by a test), so countdowns use the service's `now` and `speed`
 * (from /api/v1/site, the hello and pong frames), never the tablet's own clock.
 */
export class ServiceClock {
  constructor() {
    this.base = undefined;
    this.at = 0;
    this.speed = 1;
  }

  sync(now, speed) {
    if (typeof now !== 'number') return;
    this.base = now;
    this.at = performance.now();
    if (typeof speed === 'number') this.speed = speed;
  }

  now() {
    if (this.base === undefined) return Date.now();
    return this.base + (performance.now() - this.at) * this.speed;
  }
}

/** `HH:MM` in the site's time zone (the same digits in both languages; never the tablet's zone). */
export function hhmm(ts, timeZone, lang) {
  try {
    return new Intl.DateTimeFormat(lang === 'zh-CN' ? 'zh-CN' : 'en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ts);
  } catch {
    // An unknown zone name: UTC, said so, rather than a wrong local time.
    return `${new Date(ts).toISOString().slice(11, 16)} UTC`;
  }
}

/** `HH:MM` for today at the site; with the day (`15 Jul, 17:40`, and as Chinese writes it) for another day: an event list may reach back. */
export function when(ts, now, timeZone, lang) {
  const day = (x) => {
    try {
      return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(x);
    } catch {
      return new Date(x).toISOString().slice(0, 10);
    }
  };
  if (day(ts) === day(now)) return hhmm(ts, timeZone, lang);
  try {
    return new Intl.DateTimeFormat(lang === 'zh-CN' ? 'zh-CN' : 'en-GB', { timeZone, month: lang === 'zh-CN' ? 'numeric' : 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ts);
  } catch {
    return `${new Date(ts).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  }
}

/** Builds an element: el('div', { class: 'x', text: 'y' }, child…). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

/** The room id of a page at `/<kind>/<room>`. */
export function roomFromPath() {
  const parts = location.pathname.split('/').filter(Boolean);
  try {
    return decodeURIComponent(parts[1] || '');
  } catch {
    return '';
  }
}

/**
 * The prompt shown when a page has no token or its token was refused: a technician
 * pastes one (from `roomctl token create`) once, and the page starts again. It also
 * says how to bring the token in the address instead (`#token=…`, never sent to the
 * server). `reason` is already in the page's language, or empty.
 */
export function showTokenPrompt(container, { title, hint, reason, storageKey, t }) {
  container.replaceChildren();
  const input = el('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'rct_…', 'aria-label': title, id: 'token-input' });
  const form = el(
    'form',
    {
      class: 'token-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        if (!input.value.trim()) return;
        store.set(storageKey, input.value.trim());
        location.reload();
      },
    },
    input,
    el('button', { type: 'submit', text: t('auth.save') }),
  );
  const example = `${location.origin}${location.pathname}#token=rct_…`;
  // el() skips empty children; DOM append() would write a missing reason as the text "null".
  const card = el('div', {}, el('h2', { text: title }), reason ? el('p', { class: 'reason', text: reason }) : null, el('p', { class: 'hint', text: hint }), form, el('p', { class: 'hint fragment', text: t('auth.fragment', { example }) }));
  container.append(...card.childNodes);
  container.hidden = false;
}
