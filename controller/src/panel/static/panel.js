// The wall panel of one room (`/panel/<room>`): scene buttons, temperature against the
// comfort band (P5), the next meeting's time and readiness countdown (P4), the room's
// devices at a glance. Live over the WebSocket; re-fetched on every reconnection.
// P15: a panel token never receives a meeting title (the API leaves it out); the page
// shows one only if it was given one.
import { Api, ApiProblem, el, hhmm, Live, roomFromPath, ServiceClock, showTokenPrompt, store, takeToken } from './common.js';
import { checkName, duration, initialLanguage, language, otherLanguage, setLanguage, t } from './i18n.js';
import { apiMessage } from './words.js';

const roomId = roomFromPath();
const tokenKey = `token.panel.${roomId}`;
const $ = (id) => document.getElementById(id);
const clock = new ServiceClock();

const state = {
  site: null,
  summary: null,
  scenes: [],
  lead: null,
  points: new Map(),
  /** The scene being applied from this panel: { name, since }. */
  pending: null,
  /** The last outcome shown under the buttons: { kind: 'ok'|'bad'|'busy', text() }. */
  message: null,
};

let api;
let live;
/** What the notice shows (sign-in card or message), drawn again when the language changes. */
let notice;

boot().catch((err) => problem(err));

async function boot() {
  setLanguage(initialLanguage(null));
  $('lang').textContent = t('lang.other');
  $('lang').addEventListener('click', () => {
    setLanguage(otherLanguage(), true);
    $('lang').textContent = t('lang.other');
    if (notice) notice();
    else render();
  });
  if (!roomId) return fatal(() => t('error.noRoom'));
  $('room-name').textContent = roomId;
  const { token, empty } = takeToken(tokenKey);
  if (!token) return askToken(empty ? () => t('auth.emptyToken') : undefined);
  api = new Api(token);
  try {
    state.site = await api.get('/api/v1/site');
  } catch (err) {
    return problem(err);
  }
  clock.sync(state.site.now, state.site.speed);
  setLanguage(initialLanguage(state.site.language));
  try {
    await refresh();
  } catch (err) {
    return problem(err);
  }
  $('main').hidden = false;
  live = new Live({
    token,
    params: { rooms: roomId },
    onFrame,
    onOpen: () => refresh().catch(problem),
    onStatus: renderConnection,
    stillAllowed,
  });
  live.start();
  setInterval(tick, 1000);
  render();
}

/** Everything about the room, from the API: on start and after every reconnection. */
async function refresh() {
  const path = `/api/v1/rooms/${encodeURIComponent(roomId)}`;
  const [detail, lead] = await Promise.all([api.get(path), api.get(`${path}/lead-times`)]);
  state.summary = detail;
  state.scenes = detail.scenes;
  state.lead = lead.leadMinutes;
  for (const p of detail.points) {
    const known = state.points.get(p.id);
    // A point frame that arrived while this request was under way is newer: keep it.
    if (!known || (known.ts ?? 0) <= (p.ts ?? 0)) state.points.set(p.id, p);
  }
  clock.sync(detail.readiness?.ts, undefined);
  render();
}

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      clock.sync(f.now, f.speed);
      break;
    case 'pong':
      clock.sync(f.now);
      break;
    case 'snapshot':
    case 'room': {
      const room = f.type === 'room' ? f.room : (f.rooms || []).find((r) => r.id === roomId);
      if (room && room.id === roomId) {
        state.summary = { ...state.summary, ...room };
        render();
      }
      break;
    }
    case 'point':
      if (f.room !== roomId) break;
      state.points.set(f.point, { ...(state.points.get(f.point) || {}), id: f.point, value: f.value, quality: f.quality, ts: f.ts });
      renderStatus();
      break;
    case 'scene':
      if (f.result && f.result.room === roomId) {
        state.summary = { ...state.summary, scene: { name: f.result.scene, ok: f.result.ok, source: f.result.source, ts: f.result.ts } };
        renderScenes();
      }
      break;
  }
}

async function press(scene) {
  if (state.pending) return;
  state.pending = { name: scene.name, since: Date.now() };
  state.message = { kind: 'busy', text: () => t('scene.applying', { scene: sceneLabel(scene) }) };
  renderScenes();
  try {
    // wait=true: the answer is the scene's result, every write proven by read-back.
    const result = await api.post(`/api/v1/rooms/${encodeURIComponent(roomId)}/scenes/${encodeURIComponent(scene.name)}`);
    state.summary = { ...state.summary, scene: { name: result.scene, ok: result.ok, source: result.source, ts: result.ts } };
    state.message = result.ok ? { kind: 'ok', text: () => t('scene.ok', { scene: sceneLabel(scene) }) } : { kind: 'bad', text: () => t('scene.failed', { scene: sceneLabel(scene), why: failure(result) }) };
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 401) return problem(err);
    const text = err instanceof ApiProblem && err.status === 0 ? () => t('scene.offline') : () => apiMessage(err);
    state.message = { kind: 'bad', text };
  } finally {
    state.pending = null;
    renderScenes();
  }
}

/** Why a scene stopped: the engine's reason is English, shown in English; in Chinese the point that was not confirmed. */
function failure(result) {
  const f = result.failed;
  if (!f) return '';
  if (language() === 'en') return f.point ? `${f.point}: ${f.reason}` : f.reason;
  return f.point ? t('scene.notConfirmed', { point: f.point }) : t('result.failed');
}

function sceneLabel(scene) {
  const label = scene.label || {};
  return label[language()] || label.en || label['zh-CN'] || scene.name;
}

// ---- rendering

function render() {
  if (!state.summary) return;
  const s = state.summary;
  $('room-name').textContent = s.name || roomId;
  document.title = `${s.name || roomId} · roomctl`;
  $('lang').textContent = t('lang.other');
  const phase = $('phase');
  phase.hidden = !s.phase;
  phase.textContent = t(`phase.${s.phase}`);
  phase.className = `badge phase-${s.phase}`;
  renderTemperature();
  renderMeeting();
  renderScenes();
  renderStatus();
  renderConnection(live ? live.state : 'connecting', live);
  tick();
}

function renderTemperature() {
  const s = state.summary;
  const [lo, hi] = s.band || [22, 24];
  const temp = typeof s.temperature === 'number' ? s.temperature : null;
  $('temp').textContent = temp === null ? '--' : temp.toFixed(1);
  $('band-text').textContent = t('panel.band', { lo, hi, season: t(`season.${s.season}`) });
  // The bar spans the band ± 4 °C; the marker stays on the bar at its ends.
  const min = lo - 4;
  const max = hi + 4;
  const pos = (v) => `${(100 * (Math.min(max, Math.max(min, v)) - min)) / (max - min)}%`;
  const range = $('band-range');
  range.style.left = pos(lo);
  range.style.width = `calc(${pos(hi)} - ${pos(lo)})`;
  const marker = $('band-marker');
  marker.hidden = temp === null;
  if (temp !== null) marker.style.left = pos(temp);
  const st = $('temp-state');
  const where = temp === null ? 'none' : temp < lo ? 'low' : temp > hi ? 'high' : 'in';
  st.textContent = t(`temp.${where}`);
  st.className = `temp-state ${where === 'in' ? 'in' : where === 'none' ? '' : 'out'}`;
}

function renderMeeting() {
  const s = state.summary;
  const m = s.meeting;
  const now = clock.now();
  const tz = state.site.timezone;
  const time = $('meeting-time');
  const title = $('meeting-title');
  const countdown = $('countdown');
  const readiness = $('readiness');
  if (!m) {
    $('meeting-heading').textContent = t('panel.next');
    time.textContent = t('panel.none');
    time.className = 'meeting-time none';
    title.hidden = true;
    countdown.textContent = '';
    readiness.textContent = '';
    return;
  }
  const running = m.start <= now && now < m.end;
  $('meeting-heading').textContent = t(running ? 'panel.now' : 'panel.next');
  time.className = 'meeting-time';
  time.textContent = `${hhmm(m.start, tz, language())} – ${hhmm(m.end, tz, language())}`;
  title.hidden = !m.title;
  title.textContent = m.title || '';
  countdown.textContent = running ? t('panel.endsIn', { d: duration(m.end - now) }) : m.start - now < 30_000 ? t('panel.startsNow') : t('panel.startsIn', { d: duration(m.start - now) });
  const readyAt = state.lead ? m.start - state.lead.ready * 60_000 : undefined;
  let text;
  let kind;
  if (!running && readyAt !== undefined && now < readyAt && s.ready !== true) {
    text = t('panel.readyCheckIn', { d: duration(readyAt - now) });
    kind = 'wait';
  } else if (s.ready === true) {
    text = `✓ ${t('ready.yes')}`;
    kind = 'yes';
  } else if (s.ready === false) {
    text = `✗ ${t('ready.no', { checks: (s.failing || []).map(checkName).join(language() === 'en' ? ', ' : '、') })}`;
    kind = 'no';
  } else {
    text = t('ready.unknown');
    kind = 'wait';
  }
  readiness.textContent = text;
  readiness.className = `readiness ${kind}`;
}

function renderScenes() {
  const box = $('scenes');
  const active = state.summary && state.summary.scene;
  // One language per page: a button shows its label in the page's language only.
  const buttons = state.scenes.map((scene) => {
    const classes = ['scene'];
    if (state.pending && state.pending.name === scene.name) classes.push('busy');
    else if (active && active.name === scene.name) classes.push(active.ok ? 'active' : 'failed');
    return el('button', { type: 'button', class: classes.join(' '), 'data-scene': scene.name, disabled: !!state.pending, onclick: () => press(scene) }, sceneLabel(scene));
  });
  box.replaceChildren(...buttons);
  const status = $('scene-status');
  status.textContent = state.message ? state.message.text() : '';
  status.className = `scene-status ${state.message ? state.message.kind : ''}`;
}

/** The room at a glance: one tile per kind of device the room has. */
function renderStatus() {
  const p = (id) => state.points.get(id);
  const val = (id) => (p(id) && p(id).value !== null && p(id).value !== undefined ? p(id).value : undefined);
  const tiles = [];
  const zones = [...state.points.keys()].map((id) => /^lights\.([a-z0-9_]+)\.level$/.exec(id)).filter(Boolean).map((m) => m[1]);
  if (zones.length) {
    const zoneText = (z) => (val(`lights.${z}.on`) === false ? t('val.off') : val(`lights.${z}.level`) === undefined ? t('val.unknown') : `${Math.round(val(`lights.${z}.level`))}%`);
    const [first, ...rest] = zones;
    tiles.push({ label: t('pt.lights'), value: zoneText(first), sub: rest.map((z) => `${z} ${zoneText(z)}`).join(' · ') || first, ids: [`lights.${first}.level`, `lights.${first}.on`], point: `lights.${first}.level` });
  }
  if (p('display.power')) tiles.push({ label: t('pt.display'), value: onOff(val('display.power')), sub: val('display.input') || '', ids: ['display.power'], point: 'display.power' });
  if (p('audio.master.mute')) tiles.push({ label: t('pt.audio'), value: val('audio.master.mute') === undefined ? t('val.unknown') : val('audio.master.mute') ? t('val.muted') : t('val.live'), ids: ['audio.master.mute'], point: 'audio.master.mute' });
  if (p('door.contact')) tiles.push({ label: t('pt.door'), value: val('door.contact') === 'open' ? t('val.open') : val('door.contact') === 'closed' ? t('val.closed') : t('val.unknown'), sub: val('door.locked') === undefined ? '' : t(val('door.locked') ? 'val.locked' : 'val.unlocked'), ids: ['door.contact'], point: 'door.contact' });
  if (p('occupancy.count')) tiles.push({ label: t('pt.occupancy'), value: val('occupancy.count') === undefined ? t('val.unknown') : t('val.people', { n: val('occupancy.count') }), ids: ['occupancy.count'], point: 'occupancy.count' });
  else if (p('occupancy.present')) tiles.push({ label: t('pt.occupancy'), value: val('occupancy.present') === undefined ? t('val.unknown') : t(val('occupancy.present') ? 'val.present' : 'val.vacant'), ids: ['occupancy.present'], point: 'occupancy.present' });
  if (p('air.co2')) tiles.push({ label: t('pt.co2'), value: val('air.co2') === undefined ? t('val.unknown') : `${Math.round(val('air.co2'))} ppm`, ids: ['air.co2'], point: 'air.co2' });
  const worst = (ids) => (ids.some((id) => p(id) && p(id).quality === 'offline') ? 'offline' : ids.some((id) => p(id) && p(id).quality === 'stale') ? 'stale' : 'good');
  $('status').replaceChildren(
    ...tiles.slice(0, 6).map((tile) =>
      el('div', { class: `tile q-${worst(tile.ids)}`, title: t(`quality.${worst(tile.ids)}`) }, el('div', { class: 'label', text: tile.label }), el('div', { class: 'value', 'data-point': tile.point, text: tile.value }), tile.sub ? el('div', { class: 'sub', text: tile.sub }) : null),
    ),
  );
}

function onOff(v) {
  return v === undefined ? t('val.unknown') : v ? t('val.on') : t('val.off');
}

function renderConnection(connState, l) {
  const c = $('conn');
  c.hidden = !!notice;
  c.dataset.state = connState;
  const seconds = l && l.retryAt ? Math.max(0, Math.ceil((l.retryAt - Date.now()) / 1000)) : 0;
  c.textContent = connState === 'offline' ? t('conn.offline', { s: seconds }) : t(`conn.${connState}`);
}

function tick() {
  if (!state.site) return;
  $('clock').textContent = hhmm(clock.now(), state.site.timezone, language());
  if (state.summary) renderMeeting();
  if (live && live.state === 'offline') renderConnection('offline', live);
}

// ---- problems

async function stillAllowed() {
  try {
    await api.get(`/api/v1/rooms/${encodeURIComponent(roomId)}/lead-times`);
    return true;
  } catch (err) {
    if (err instanceof ApiProblem && (err.status === 401 || err.status === 403 || err.status === 404)) {
      problem(err);
      return false;
    }
    return true; // unreachable: keep trying
  }
}

function problem(err) {
  if (!(err instanceof ApiProblem)) {
    console.error(err);
    return fatal(() => t('error.page'));
  }
  // Unreachable or restarting: the live socket's reconnection brings a fresh refresh.
  if (err.status === 0 || err.status >= 500) {
    if (!state.summary) setTimeout(() => location.reload(), 5000);
    return;
  }
  if (err.status === 401 || err.status === 403) {
    store.remove(tokenKey);
    return askToken(() => t('auth.rejected', { message: apiMessage(err) }));
  }
  fatal(() => t('error.room', { room: roomId, message: apiMessage(err) }));
}

/** `reason`: a function giving the text in the current language, or nothing. */
function askToken(reason) {
  if (live) live.stop();
  $('main').hidden = true;
  $('conn').hidden = true;
  notice = () => showTokenPrompt($('notice'), { title: t('auth.panelTitle'), hint: t('auth.panelHint', { room: roomId }), reason: reason ? reason() : '', storageKey: tokenKey, t });
  notice();
}

function fatal(message) {
  if (live) live.stop();
  $('main').hidden = true;
  $('conn').hidden = true;
  notice = () => {
    const n = $('notice');
    n.replaceChildren(el('h2', { text: message() }));
    n.hidden = false;
  };
  notice();
}
