// One room for the engineer (`/rooms/<room>`): its facts, every point with its value,
// quality and age, its devices' health, its active alerts and its recent events. Live
// over the WebSocket (this room only); every (re)connection re-fetches it all.
import { el, Live, roomFromPath, when as localWhen } from './common.js';
import { alertsText, bandText, devicesText, meeting, readiness, SitePage, temperature } from './engineer.js';
import { checkName, language, t, translateStatic } from './i18n.js';
import { alertText, codeWord, deviceErrorText, deviceKindText, valueText } from './words.js';

const $ = (id) => document.getElementById(id);
const roomId = roomFromPath();
const page = new SitePage({ onLanguage: render });
const state = { summary: null, points: new Map(), devices: new Map(), alerts: new Map(), events: [] };
const MAX_EVENTS = 100;

start().catch((err) => page.problem(err));

async function start() {
  if (!(await page.start())) return;
  $('room-name').textContent = roomId;
  try {
    await refresh();
  } catch (err) {
    return page.problem(err);
  }
  $('main').hidden = false;
  page.live = new Live({
    token: page.token,
    params: { rooms: roomId },
    onFrame,
    onOpen: () => refresh().catch((err) => page.problem(err)),
    onStatus: () => page.connection(),
    stillAllowed: () => page.stillAllowed(),
  });
  page.live.start();
  setInterval(renderPoints, 1000); // the ages move on
}

async function refresh() {
  const path = `/api/v1/rooms/${encodeURIComponent(roomId)}`;
  const [detail, events] = await Promise.all([page.api.get(path), page.api.get(`${path}/events?limit=${MAX_EVENTS}`).catch(() => ({ events: [] }))]);
  state.summary = detail;
  for (const p of detail.points) {
    const known = state.points.get(p.id);
    if (!known || (known.ts ?? 0) <= (p.ts ?? 0)) state.points.set(p.id, p);
  }
  state.devices = new Map(detail.devices.map((d) => [d.name, d]));
  state.alerts = new Map(detail.alerts.map((a) => [a.id, a]));
  state.events = events.events;
  render();
}

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      page.clock.sync(f.now, f.speed);
      return;
    case 'pong':
      page.clock.sync(f.now);
      return;
    case 'room':
      state.summary = { ...state.summary, ...f.room };
      return renderFacts();
    case 'point':
      state.points.set(f.point, { ...(state.points.get(f.point) || { id: f.point, device: f.device }), value: f.value, quality: f.quality, ts: f.ts });
      return renderPoints();
    case 'device': {
      const known = state.devices.get(f.device);
      if (known && known.online !== f.online) addEvent({ type: 'device', ts: f.ts, room: f.room, device: f.device, online: f.online, error: f.lastError });
      state.devices.set(f.device, { ...(known || { name: f.device }), ...f, name: f.device });
      return renderDevices();
    }
    case 'alert':
      if (f.alert.state === 'raised') state.alerts.set(f.alert.id, f.alert);
      else state.alerts.delete(f.alert.id);
      addEvent({ type: 'alert', ts: f.alert.ts, room: f.alert.room, alert: f.alert });
      return renderAlerts();
    case 'activity':
      return addEvent({ type: 'activity', ts: f.ts, room: f.room, activity: f });
    case 'verdict':
      return addEvent({ type: 'verdict', ts: f.ts, room: f.room, verdict: f });
    case 'meeting':
      return addEvent({ type: 'meeting', ts: page.clock.now(), room: f.meeting.room, change: f.change, meeting: f.meeting });
  }
}

function addEvent(e) {
  state.events.unshift(e);
  state.events.length = Math.min(state.events.length, MAX_EVENTS);
  renderEvents();
}

function render() {
  translateStatic();
  renderFacts();
  renderPoints();
  renderDevices();
  renderAlerts();
  renderEvents();
}

function renderFacts() {
  const s = state.summary;
  if (!s) return;
  $('room-name').textContent = `${s.name} · ${s.id}`;
  document.title = `${s.name} · roomctl`;
  const phase = $('phase');
  phase.hidden = false;
  phase.textContent = t(`phase.${s.phase}`);
  phase.className = `badge phase-${s.phase}`;
  const r = readiness(s);
  const m = meeting(s, page.site, page.clock);
  const a = alertsText(s);
  const d = devicesText(s);
  const fact = (label, value, more, field, cls = '') => el('div', { class: 'fact', 'data-field': field }, el('div', { class: 'label', text: label }), el('div', { class: `value ${cls}` }, value), more ? el('div', { class: 'more', text: more }) : null);
  $('facts').replaceChildren(
    fact(t('panel.temperature'), temperature(s), bandText(s), 'temperature'),
    fact(t('room.readiness'), r.text, '', 'readiness', r.cls),
    fact(t('panel.next'), m.text, m.title, 'meeting'),
    fact(t('room.alerts'), a.text, '', 'alerts', a.cls),
    fact(t('room.devices'), d.text, s.scene ? t('ov.scene', { scene: s.scene.name }) : '', 'devices', d.cls),
  );
}

function renderPoints() {
  if (!state.summary) return;
  const now = page.clock.now();
  const rows = [...state.points.values()].map((p) =>
    el(
      'tr',
      { 'data-point': p.id },
      el('td', { text: p.id }),
      el('td', { class: 'num', 'data-field': 'value', text: p.value === null || p.value === undefined ? '—' : `${valueText(p.value)}${p.unit ? ` ${p.unit}` : ''}` }),
      el('td', {}, el('span', { class: `q ${p.quality}`, 'data-field': 'quality', text: t(`quality.${p.quality}`) })),
      el('td', { class: 'num', text: age(now, p.ts) }),
    ),
  );
  $('points').tBodies[0].replaceChildren(...rows);
}

function age(now, ts) {
  if (!ts) return t('age.never');
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 120) return t('age.s', { n: s });
  if (s < 7200) return t('age.m', { n: Math.round(s / 60) });
  return t('age.h', { n: Math.round(s / 3600) });
}

function renderDevices() {
  const rows = [...state.devices.values()].map((d) =>
    el(
      'tr',
      { 'data-device': d.name },
      el('td', { text: d.name }),
      el('td', { text: deviceKindText(d.kind, d.protocol) }),
      el('td', {}, el('span', { class: `q ${d.online ? 'good' : 'offline'}`, text: t(d.online ? 'yes' : 'no') })),
      el('td', { class: 'num', text: d.errors ?? 0 }),
      el('td', { class: 'num', text: typeof d.latencyMs === 'number' ? `${Math.round(d.latencyMs)} ms` : '' }),
      el('td', { class: 'wrap', text: deviceErrorText(d.lastError) }),
    ),
  );
  $('devices').tBodies[0].replaceChildren(...rows);
}

function renderAlerts() {
  const items = [...state.alerts.values()].sort((a, b) => b.ts - a.ts).map((a) => el('li', { class: a.severity, 'data-alert': a.id }, el('time', { text: when(a.ts) }), alertText(a)));
  $('alerts').replaceChildren(...(items.length ? items : [el('li', { class: 'empty', text: t('ov.noAlerts') })]));
}

function renderEvents() {
  const items = state.events.map((e) => el('li', { class: e.type === 'alert' && e.alert.state === 'raised' ? e.alert.severity : '', 'data-event': e.type }, el('time', { text: when(e.ts) }), eventText(e)));
  $('events').replaceChildren(...(items.length ? items : [el('li', { class: 'empty', text: t('room.noEvents') })]));
}

function when(ts) {
  return localWhen(ts, page.clock.now(), page.site.timezone, language());
}

/** A scene by its label in the page's language; a step or routine (`av_on`, `vip_check@7d`) by its words. */
function activityName(a) {
  if (a.kind === 'scene') {
    const scene = (state.summary?.scenes || []).find((x) => x.name === a.name);
    const label = scene?.label || {};
    return label[language()] || a.name;
  }
  const [base, when] = String(a.name).split('@');
  const ahead = /^(\d+)([dh])$/.exec(when || '');
  return codeWord('step', base) + (ahead ? ` (${t(ahead[2] === 'd' ? 'ahead.d' : 'ahead.h', { n: ahead[1] })})` : when ? ` (${when})` : '');
}

function eventText(e) {
  const sep = language() === 'en' ? ', ' : '、';
  switch (e.type) {
    case 'alert':
      return t(e.alert.state === 'raised' ? 'ev.alert.raised' : 'ev.alert.cleared', { message: alertText(e.alert) });
    case 'activity': {
      const a = e.activity;
      // The detail is the engine's English sentence: shown in English only.
      return t('ev.activity', { kind: codeWord('act', a.kind), name: activityName(a), result: codeWord('result', a.result) }) + (a.detail && language() === 'en' ? ` — ${a.detail}` : '');
    }
    case 'verdict': {
      const v = e.verdict;
      return t('ev.verdict', { meeting: v.meetingId, ready: v.readyAtStart ? t('ev.verdict.ready') : t('ev.verdict.late', { checks: v.failingChecks.map(checkName).join(sep) }) });
    }
    case 'device': {
      const why = deviceErrorText(e.error);
      return t(e.online ? 'ev.device.online' : 'ev.device.offline', { device: e.device }) + (why ? ` — ${why}` : '');
    }
    case 'meeting': {
      const m = e.meeting;
      return t('ev.meeting', { change: codeWord('mchange', e.change), start: when(m.start), end: when(m.end) }) + (m.title ? ` — ${m.title}` : '');
    }
    default:
      return e.type;
  }
}
