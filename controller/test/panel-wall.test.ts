import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRecord } from '../src/model/points.ts';
import { launchChromium, screenshot, startPanelBuilding, type Browser, type PanelBuilding } from './helpers/panel-browser.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The wall panel (issue 6, item 4) in a real browser: Debian's headless Chromium
 * (playwright-core) opens `/panel/3F-301` of the running service beside the simulated
 * building, on real sockets all the way — page → HTTP/WebSocket → engine → MQTT →
 * simulated lighting controller → MQTT → room state → WebSocket → page.
 */
const ROOM = '3F-301';
const TITLE = 'Budget hearing with the vice-mayor';
const YAML = (gatewayPort: number) => `
site: { id: wall, name: Panel Test Building, timezone: Asia/Shanghai }
modbus:
  gateways: [ { id: gw-3f, tcp: { host: 127.0.0.1, port: ${gatewayPort} }, timeout_ms: 1000 } ]
rooms:
  - id: ${ROOM}
    name: Room 301
    floor: 3
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw-3f, unit: 1, poll_ms: 1000 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: wall/${ROOM}/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: wall/${ROOM}/dsp }, channels: { mic: 4 } }
      - { name: door, profile: door-mqtt, mqtt: { base: wall/${ROOM}/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: wall/${ROOM}/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: wall/${ROOM}/display } }
      - { name: air, profile: air-quality-mqtt, mqtt: { base: wall/${ROOM}/air } }
    scenes:
      meeting:
        label: { en: Meeting, zh-CN: 会议 }
        steps:
          - { set: lights.main.on, value: true }
          - { set: lights.main.level, value: 80 }
          - { set: lights.board.on, value: true }
          - { set: lights.board.level, value: 100 }
      presentation:
        label: { en: Presentation, zh-CN: 演示 }
        steps:
          - { set: lights.main.level, value: 30 }
          - { set: lights.board.on, value: false }
          - { set: display.power, value: true }
      break:
        label: { en: Break, zh-CN: 茶歇 }
        steps:
          - { set: lights.main.on, value: true }
          - { set: lights.main.level, value: 60 }
      close:
        label: { en: Close, zh-CN: 关闭 }
        allow_locks: true
        steps:
          - { set: lights.main.on, value: false }
          - { set: lights.board.on, value: false }
          - { set: door.locked, value: true }
simulation:
  seed: 7
  day: 2025-07-16
  start: "13:00"
  meetings:
    - { id: m-hearing, room: ${ROOM}, start: "14:00", end: "15:30", attendees: 12, title: ${TITLE}, organizer: Finance Office }
`;

let b: PanelBuilding;
let browser: Browser;
let token = '';
const commands: CommandRecord[] = [];

const text = (selector: string) => browser.page.locator(selector).first().textContent({ timeout: 5000 });
const lightsLevel = () => text('[data-point="lights.main.level"]');

beforeAll(async () => {
  b = await startPanelBuilding(YAML);
  b.service.bus.on('command', (c) => commands.push(c));
  token = b.token('panel', [ROOM]);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await b?.close();
});

describe('the wall panel in headless Chromium', () => {
  it('takes its panel token from the address once, keeps it on the tablet and removes it from the address', async () => {
    const { page } = browser;
    await page.goto(`${b.base}/panel/${ROOM}#token=${token}`);
    await page.locator('#main').waitFor({ state: 'visible', timeout: 20_000 });
    expect(page.url()).toBe(`${b.base}/panel/${ROOM}`);
    expect(await page.evaluate("localStorage.getItem('roomctl.token.panel.3F-301')")).toBe(token);
    // A reload (the tablet waking up, a kiosk browser restarting) needs no token in the address.
    await page.reload();
    await page.locator('#main').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await text('#room-name')).toBe('Room 301');
  });

  it('shows the site default language (zh-CN), the scenes as large buttons, the temperature against the band and the next meeting without its title (P15)', async () => {
    const { page } = browser;
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await page.locator('button.scene').allTextContents()).toEqual(['会议', '演示', '茶歇', '关闭']); // one language per page (issue 13): no English under the Chinese label
    const button = await page.locator('[data-scene="meeting"]').boundingBox();
    expect(button!.height).toBeGreaterThanOrEqual(120);
    expect(button!.width).toBeGreaterThanOrEqual(220);
    await waitFor(async () => /^\d+\.\d$/.test((await text('#temp')) ?? ''), 30_000, 'a temperature from the simulated fan-coil unit');
    expect(await text('#band-text')).toBe('舒适区间 22–24 °C（夏季）');
    expect(await text('#meeting-time')).toBe('14:00 – 15:30');
    expect(await text('#countdown')).toMatch(/^\d+ 分钟后开始$/);
    expect(await text('#readiness')).toMatch(/^\d+ 分钟后进行就绪检查$/);
    expect(await page.content()).not.toContain(TITLE);
    expect(await page.locator('#conn').getAttribute('data-state')).toBe('live');
  });

  it('a press on a scene button changes the room: the lights level on the page follows the simulated device', async () => {
    const { page } = browser;
    await waitFor(async () => (await lightsLevel()) === '关', 20_000, 'the lights off at first');
    const before = commands.length;
    await page.locator('[data-scene="meeting"]').click();
    await waitFor(async () => (await lightsLevel()) === '80%', 30_000, 'the lights at 80 % on the page');
    await waitFor(async () => (await page.locator('#scene-status').getAttribute('class'))?.includes('ok'), 30_000, 'the scene confirmed');
    expect(await text('#scene-status')).toBe('“会议”已执行');
    expect(commands.slice(before).map((c) => `${c.point}=${String(c.sent)}`)).toEqual(['lights.main.on=true', 'lights.main.level=80', 'lights.board.on=true', 'lights.board.level=100']);
    // What the page shows is what the device reported back, not what was asked for.
    expect(b.service.state.get(ROOM, 'lights.main.level')).toMatchObject({ value: 80, quality: 'good' });
    expect(await page.locator('[data-scene="meeting"]').getAttribute('class')).toContain('active');
    await page.locator('[data-scene="break"]').click();
    await waitFor(async () => (await lightsLevel()) === '60%', 30_000, 'the lights at 60 % on the page');
    await page.locator('[data-scene="meeting"]').click();
    await waitFor(async () => (await lightsLevel()) === '80%', 30_000, 'the lights back at 80 %');
    const file = await screenshot(page, 'panel.png', true);
    expect(statSync(file).size).toBeLessThan(300 * 1024);
  });

  it('switches between Chinese and English on the page and remembers the choice on the tablet', async () => {
    const { page } = browser;
    expect(await text('#lang')).toBe('English');
    await page.locator('#lang').click();
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await text('#lang')).toBe('中文');
    expect(await page.locator('button.scene').allTextContents()).toEqual(['Meeting', 'Presentation', 'Break', 'Close']);
    expect(await text('#countdown')).toMatch(/^Starts in \d+ min$/);
    expect(await text('#band-text')).toBe('Comfort band 22–24 °C (summer)');
    await page.reload();
    await page.locator('#main').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await waitFor(async () => (await lightsLevel()) === '80%', 20_000, 'the lights tile after the reload');
    await screenshot(page, 'panel-en.png');
  });

  it('recovers by itself after a server restart and shows what changed while it was away', async () => {
    const { page } = browser;
    await b.stopApp();
    await waitFor(async () => (await page.locator('#conn').getAttribute('data-state')) === 'offline', 30_000, 'the page to notice the server is gone');
    expect(await text('#conn')).toMatch(/^Offline — retrying in \d+ s$/);
    // While the page cannot hear, the room changes (a wall keypad, the schedule…).
    const result = await b.service.engine.applyScene(ROOM, 'break', 'keypad');
    expect(result.ok).toBe(true);
    await b.startApp();
    await waitFor(async () => (await page.locator('#conn').getAttribute('data-state')) === 'live', 60_000, 'the page to reconnect');
    // No point frame repeats an unchanged value: 60 % can only come from the re-fetch.
    await waitFor(async () => (await lightsLevel()) === '60%', 20_000, 'the re-fetched lights level');
    await waitFor(async () => (await page.locator('[data-scene="break"]').getAttribute('class'))?.includes('active'), 20_000, 'the break scene shown as active');
    // And it is live again: a press works and the page follows.
    await page.locator('[data-scene="meeting"]').click();
    await waitFor(async () => (await lightsLevel()) === '80%', 30_000, 'the lights at 80 % after the restart');
    expect(browser.problems).toEqual([]);
  });
});
