// The engineer's overview (`/`): every room the token may see as a tile — phase,
// temperature against the band, readiness and the checks that fail, the meeting,
// alerts, device health, last scene. Live over the WebSocket (room tiles only: point
// frames of a whole building are not needed here); each (re)connection brings a
// snapshot of every room, so nothing is missed while the page was away.
import { el, Live } from './common.js';
import { alertsText, bandText, devicesText, health, meeting, readiness, SitePage, temperature } from './engineer.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const rooms = new Map();
const page = new SitePage({ onLanguage: render });

start().catch((err) => page.problem(err));

async function start() {
  if (!(await page.start())) return;
  $('site-name').textContent = page.site.name;
  document.title = `${page.site.name} · roomctl`;
  try {
    const { rooms: list } = await page.api.get('/api/v1/rooms');
    for (const r of list) rooms.set(r.id, r);
  } catch (err) {
    return page.problem(err);
  }
  $('main').hidden = false;
  page.live = new Live({
    token: page.token,
    params: { types: 'room,mqtt' },
    onFrame,
    onStatus: () => page.connection(),
    stillAllowed: () => page.stillAllowed(),
  });
  page.live.start();
  setInterval(render, 15_000); // countdowns move on
  render();
}

function onFrame(f) {
  if (f.type === 'hello') page.clock.sync(f.now, f.speed);
  else if (f.type === 'pong') page.clock.sync(f.now);
  else if (f.type === 'snapshot') {
    page.clock.sync(f.now);
    rooms.clear();
    for (const r of f.rooms) rooms.set(r.id, r);
    render();
  } else if (f.type === 'room') {
    rooms.set(f.room.id, f.room);
    renderTile(f.room);
    renderSummary();
  }
}

function render() {
  $('tiles').replaceChildren(...[...rooms.values()].map(tile));
  renderSummary();
}

function renderSummary() {
  const list = [...rooms.values()];
  $('summary').textContent = t('ov.summary', {
    rooms: list.length,
    notReady: list.filter((r) => r.ready === false).length,
    alerts: list.reduce((n, r) => n + r.alertsActive, 0),
    on: list.reduce((n, r) => n + r.devicesOnline, 0),
    all: list.reduce((n, r) => n + r.devicesTotal, 0),
  });
}

function renderTile(s) {
  const old = document.querySelector(`[data-room="${CSS.escape(s.id)}"]`);
  if (old) old.replaceWith(tile(s));
  else render();
}

function tile(s) {
  const r = readiness(s);
  const m = meeting(s, page.site, page.clock);
  const a = alertsText(s);
  const d = devicesText(s);
  const line = (cls, text, field, extra = {}) => el('div', { class: cls, 'data-field': field, text, ...extra });
  return el(
    'a',
    { class: `tile-room ${health(s)}`, href: `/rooms/${encodeURIComponent(s.id)}`, 'data-room': s.id },
    el('div', { class: 'head' }, el('span', { class: 'name', text: s.name }), el('span', { class: `badge phase-${s.phase}`, 'data-field': 'phase', 'data-phase': s.phase, text: t(`phase.${s.phase}`) })),
    el('div', { class: 'sub', text: [s.id, s.floor !== null && s.floor !== undefined ? t('ov.floor', { floor: s.floor }) : null].filter(Boolean).join(' · ') }),
    el('div', { class: 'temp', 'data-field': 'temperature' }, temperature(s), el('small', { text: bandText(s) })),
    s.ready === null && !s.meeting ? null : line(r.cls, r.text, 'readiness', { 'data-ready': String(s.ready), 'data-checks': (s.failing || []).join(',') }),
    line('', m.text, 'meeting'),
    m.title ? line('muted', m.title, 'title') : null,
    line(a.cls, a.text, 'alerts'),
    line(d.cls, d.text, 'devices'),
    s.scene ? line('muted', t('ov.scene', { scene: s.scene.name }) + (s.scene.ok ? '' : ' ✗'), 'scene') : null,
  );
}
