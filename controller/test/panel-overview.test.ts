import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, startPanelBuilding, type Browser, type PanelBuilding } from './helpers/panel-browser.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The engineer's overview `/` and room page `/rooms/<room>` (issue 6, item 5) in
 * Debian's headless Chromium, over the running service beside the simulated building.
 * The clock runs 30× real time so that a meeting's steps (compressed: it is booked
 * late, P13) and its readiness check (T-15, P4) happen within seconds; what the page
 * shows is compared with what the API says at the same moment, not with guesses about
 * the simulated physics.
 */
const TITLE = 'Audit committee (closed session)';
const YAML = (gatewayPort: number) => `
site: { id: ovw, name: Overview Test Building, timezone: Asia/Shanghai }
modbus:
  gateways: [ { id: gw-3f, tcp: { host: 127.0.0.1, port: ${gatewayPort} }, timeout_ms: 1000 } ]
rooms:
  - id: 1F-101
    name: Auditorium
    floor: 1
    capacity: 120
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-3f, unit: 2, poll_ms: 30000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ovw/1F-101/lights }, channels: { zone: [main, stage] } }
      - { name: door, profile: door-mqtt, mqtt: { base: ovw/1F-101/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: ovw/1F-101/occupancy } }
  - id: 2F-201
    name: Conference Room 201
    floor: 2
    capacity: 40
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-3f, unit: 3, poll_ms: 30000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ovw/2F-201/lights } }
      - { name: display, profile: display-mqtt, mqtt: { base: ovw/2F-201/display } }
      - { name: door, profile: door-mqtt, mqtt: { base: ovw/2F-201/door } }
  - id: 3F-301
    name: Room 301
    floor: 3
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-3f, unit: 1, poll_ms: 30000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ovw/3F-301/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: ovw/3F-301/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: ovw/3F-301/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: ovw/3F-301/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: ovw/3F-301/display } }
      - { name: air, profile: air-quality-mqtt, mqtt: { base: ovw/3F-301/air } }
    scenes:
      meeting:
        label: { en: Meeting, zh-CN: 会议 }
        steps: [ { set: lights.main.on, value: true }, { set: lights.main.level, value: 80 }, { set: lights.board.on, value: true }, { set: lights.board.level, value: 100 } ]
      dim:
        label: { en: Dim, zh-CN: 调暗 }
        steps: [ { set: lights.main.level, value: 20 } ]
  - id: 3F-302
    name: Room 302
    floor: 3
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ovw/3F-302/lights } }
      - { name: door, profile: door-mqtt, mqtt: { base: ovw/3F-302/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: ovw/3F-302/occupancy } }
  - id: 4F-401
    name: Small Room 401
    floor: 4
    capacity: 6
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: ovw/4F-401/lights } }
      - { name: door, profile: door-mqtt, mqtt: { base: ovw/4F-401/door } }
simulation:
  seed: 11
  day: 2025-07-16
  start: "13:14"
  tick_s: 30
  meetings:
    - { id: m-training, room: 1F-101, start: "16:00", end: "17:30", attendees: 60 }
    - { id: m-audit, room: 3F-301, start: "13:30", end: "14:30", attendees: 8, booked_at: "13:14", title: ${TITLE}, organizer: Audit Office }
`;

interface Tile {
  id: string;
  phase: string;
  ready: boolean | null;
  failing: string[];
  alertsActive: number;
  devicesOnline: number;
  devicesTotal: number;
}

let b: PanelBuilding;
let browser: Browser;
let engineer = '';

async function apiRooms(): Promise<Tile[]> {
  const res = await b.app().inject({ method: 'GET', url: '/api/v1/rooms', headers: { authorization: `Bearer ${engineer}` } });
  return (res.json() as { rooms: Tile[] }).rooms;
}
const tile = (room: string, field: string) => browser.page.locator(`[data-room="${room}"] [data-field="${field}"]`);

beforeAll(async () => {
  b = await startPanelBuilding(YAML, { speed: 30 });
  engineer = b.token('engineer');
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await b?.close();
});

describe('the engineer overview and room page in headless Chromium', () => {
  it('asks for a token when it has none or a wrong one, and keeps the one typed in', async () => {
    const { page } = browser;
    await page.goto(`${b.base}/`);
    await page.locator('#token-input').waitFor({ timeout: 20_000 });
    expect(await page.locator('#notice h2').textContent()).toBe('请使用 API 令牌登录');
    await page.goto(`${b.base}/#token=rct_0123456789_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    await page.locator('#token-input').waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(`${b.base}/`);
    expect(await page.locator('#notice .reason').textContent()).toBe('令牌未被接受：API 令牌不存在'); // in the page's language (issue 13, item 2)
    await page.locator('#token-input').fill(engineer);
    await page.locator('#token-input').press('Enter');
    await page.locator('[data-room="4F-401"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-room]').evaluateAll((els) => els.map((e) => e.getAttribute('data-room')))).toEqual(['1F-101', '2F-201', '3F-301', '3F-302', '4F-401']);
  });

  it('shows every room with its phase, readiness and failing checks, alerts and device health as the API reports them, live', async () => {
    // The meeting's readiness check (T-15) runs within seconds on this clock.
    await waitFor(async () => (await apiRooms()).find((r) => r.id === '3F-301' && r.ready !== null), 60_000, 'the readiness check of 3F-301');
    await waitFor(
      async () => {
        const api = (await apiRooms()).find((r) => r.id === '3F-301')!;
        const shown = tile('3F-301', 'readiness');
        const text = (await shown.textContent()) ?? '';
        return (
          (await shown.getAttribute('data-ready')) === String(api.ready) &&
          (await shown.getAttribute('data-checks')) === api.failing.join(',') &&
          (api.ready ? text === '✓ 会议室已就绪' : /^✗ 未就绪：.+/.test(text)) &&
          (await tile('3F-301', 'phase').getAttribute('data-phase')) === api.phase
        );
      },
      30_000,
      'the tile to show the readiness, failing checks and phase the API reports',
    );
    await waitFor(
      async () => {
        const api = (await apiRooms()).find((r) => r.id === '3F-301')!;
        const text = await tile('3F-301', 'alerts').textContent();
        return api.alertsActive === 0 ? text === '无告警' : text?.startsWith(`⚠ 告警 ${api.alertsActive} 条`);
      },
      30_000,
      'the alert count of the API on the tile',
    );
    // The engineer (P15: allowed) sees the meeting's title; the time counts down.
    expect(await tile('3F-301', 'title').textContent()).toBe(TITLE);
    expect(await tile('3F-301', 'meeting').textContent()).toMatch(/^13:30–14:30 · /);
    expect(await tile('3F-302', 'meeting').textContent()).toBe('24 小时内无会议');
    // A device drops off the network: the tile says so without a reload.
    expect(await tile('3F-301', 'devices').textContent()).toBe('设备 7/7');
    b.sim.injectFault('3F-301', 'device_offline:air');
    await waitFor(async () => (await tile('3F-301', 'devices').textContent()) === '设备 6/7', 30_000, 'the tile to show the air sensor offline');
    expect(await tile('3F-301', 'devices').getAttribute('class')).toBe('line-bad');
    // An alert raised now appears on the tile live.
    const before = (await apiRooms()).find((r) => r.id === '3F-302')!.alertsActive;
    b.service.engine.alerts.raise({ room: '3F-302', check: 'door_closed', observed: 'open', expected: 'closed', severity: 'critical', message: '3F-302: door left open' });
    await waitFor(async () => (await tile('3F-302', 'alerts').textContent()) === `⚠ 告警 ${before + 1} 条（严重 1 条）`, 30_000, 'the new alert on the 3F-302 tile');
    await page().setViewportSize({ width: 1280, height: 800 });
    await screenshot(page(), 'overview.png', true);
  });

  it('opens a room page with every point and its quality, the devices and the recent events, and keeps them live', async () => {
    await page().locator('[data-room="3F-301"]').click();
    await page().waitForURL(`${b.base}/rooms/3F-301`);
    await page().locator('#points tbody tr').first().waitFor({ timeout: 20_000 });
    const detail = (await b.app().inject({ method: 'GET', url: '/api/v1/rooms/3F-301', headers: { authorization: `Bearer ${engineer}` } })).json() as { points: { id: string }[] };
    expect(await page().locator('#points tbody tr').count()).toBe(detail.points.length);
    // The air sensor is offline (previous test): its points say so; the lights are good.
    await waitFor(async () => (await page().locator('[data-point="air.co2"] [data-field="quality"]').textContent()) === '离线', 20_000, 'air.co2 offline');
    expect(await page().locator('[data-point="lights.main.level"] [data-field="quality"]').textContent()).toBe('正常');
    expect(await page().locator('[data-device="air"]').textContent()).toContain('否');
    expect(await page().locator('#events').textContent()).toContain('设备 air 离线');
    // Live: a scene run now shows in the events and moves the lights row.
    const result = await b.service.engine.applyScene('3F-301', 'dim', 'api');
    expect(result.ok).toBe(true);
    await waitFor(async () => (await page().locator('[data-point="lights.main.level"] [data-field="value"]').textContent()) === '20 %', 20_000, 'the lights row at 20 %');
    await waitFor(async () => (await page().locator('#events li').first().textContent())?.includes('场景 调暗：完成'), 20_000, 'the scene at the top of the events');
    await page().locator('#lang').click();
    expect(await page().locator('[data-point="air.co2"] [data-field="quality"]').textContent()).toBe('offline');
    expect(await page().locator('#points thead').textContent()).toBe('PointValueQualityLast reading');
    await screenshot(page(), 'room.png');
    expect(browser.problems).toEqual([]);
  });

  it('never shows a meeting title to a viewer token (P15), and shows a panel token only its own room', async () => {
    const viewer = b.token('viewer');
    await page().goto(`${b.base}/#token=${viewer}`);
    await page().locator('[data-room="3F-301"] [data-field="meeting"]').waitFor({ timeout: 20_000 });
    expect(await page().locator('[data-room="3F-301"] [data-field="title"]').count()).toBe(0);
    expect(await page().content()).not.toContain(TITLE);
    const panel = b.token('panel', ['3F-302']);
    await page().goto(`${b.base}/#token=${panel}`);
    await page().locator('[data-room="3F-302"]').waitFor({ timeout: 20_000 });
    expect(await page().locator('[data-room]').count()).toBe(1);
  });
});

function page() {
  return browser.page;
}
