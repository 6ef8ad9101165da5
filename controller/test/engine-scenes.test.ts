import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimDay } from '../src/cli/sim-day.ts';
import type { SceneResult } from '../src/engine/reconcile/scenes.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Scenes applied by the engine to simulated devices over real sockets (sim-day.ts), on a
 * stepped virtual clock: ordered writes with their waits, each proven by read-back,
 * the result published retained on the room's scene topic.
 */
const YAML = `
site: { id: sc, name: Scenes, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Scene room
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: sc/R1/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: sc/R1/dsp }, channels: { mic: 2 } }
      - { name: door, profile: door-mqtt, mqtt: { base: sc/R1/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: sc/R1/occupancy } }
      - { name: display, profile: display-mqtt, mqtt: { base: sc/R1/display } }
    scenes:
      presentation:
        steps:
          - { set: lights.main.level, value: 30 }
          - { set: lights.board.on, value: false }
          - { wait_ms: 120000 }
          - { set: display.power, value: true }
          - { set: display.input, value: hdmi2 }
      close:
        allow_locks: true
        steps:
          - { set: audio.master.mute, value: true }
          - { set: lights.main.on, value: false }
          - { set: door.locked, value: true }
simulation:
  day: 2025-07-16
  start: "08:00"
  meetings:
    - { id: busy, room: R1, start: "09:00", end: "10:00", attendees: 4 }
`;

let day: SimDay;
let watcher: MqttClient;
const retained: SceneResult[] = [];

beforeAll(async () => {
  day = await SimDay.open({ site: siteFromYaml(YAML), noMeetings: true });
  watcher = mqtt.connect(day.service.mqttUrl, { clientId: 'scene-watcher', ...day.service.logins!.integrations });
  watcher.on('message', (_topic, payload) => retained.push(JSON.parse(payload.toString())));
  await watcher.subscribeAsync('roomctl/sc/rooms/R1/scene', { qos: 1 });
}, 60_000);

afterAll(async () => {
  await watcher?.endAsync();
  await day?.close();
});

/** Applies a scene while virtual time moves on, as the clock would in a running controller. */
async function apply(scene: string) {
  let result: SceneResult | undefined;
  const started = day.clock.now();
  const running = day.service.engine.applyScene('R1', scene, 'panel').then((r) => (result = r));
  while (!result) await day.advance(5000);
  await running;
  return { result: result!, tookMs: day.clock.now() - started };
}

describe('scenes', () => {
  it('applies a scene in order, waits on the clock where it says so, proves every write and publishes the result retained', async () => {
    const { result, tookMs } = await apply('presentation');
    expect(result).toMatchObject({ room: 'R1', scene: 'presentation', ok: true, source: 'panel' });
    expect(result.applied.map((w) => [w.point, w.confirmed])).toEqual([
      ['lights.main.level', true],
      ['lights.board.on', true],
      ['display.power', true],
      ['display.input', true],
    ]);
    expect(tookMs).toBeGreaterThanOrEqual(120_000 + 20_000); // the wait, then the projector's warm-up before it reads back on
    expect(day.service.state.goodValue('R1', 'display.input')).toBe('hdmi2');
    await waitFor(() => retained.some((r) => r.scene === 'presentation'), 10_000, 'the retained scene message');
    expect(retained.find((r) => r.scene === 'presentation')).toMatchObject({ ok: true, room: 'R1' });
  });

  it('stops at a write that cannot be proven and says which point failed and why', async () => {
    day.sim.injectFault('R1', 'display_no_power');
    await apply('close'); // display stays as it is; start from a dark display
    await day.service.commands.write('R1', 'display.power', false);
    const { result } = await apply('presentation');
    expect(result.ok).toBe(false);
    expect(result.failed).toMatchObject({ point: 'display.power' });
    expect(result.failed!.reason).toMatch(/not confirmed: read back false/);
    expect(result.applied.map((w) => w.point)).toEqual(['lights.main.level', 'lights.board.on', 'display.power']); // display.input never sent
    day.sim.injectFault('R1', 'display_no_power', true);
  });

  it('P7 safety: a scene that may lock the door does not lock it while the room is occupied', async () => {
    await day.advanceTo('09:05'); // the meeting's people are in
    expect(day.service.state.goodValue('R1', 'occupancy.present')).toBe(true);
    await day.service.commands.write('R1', 'door.locked', false);
    const { result } = await apply('close');
    expect(result.ok).toBe(false);
    expect(result.failed).toEqual({ point: 'door.locked', reason: 'refused: room occupied' });
    expect(day.service.state.goodValue('R1', 'door.locked')).toBe(false);
  });

  it('never touches a door lock from a scene that does not allow locks, and reports an unknown scene', async () => {
    const scenes = day.site.rooms[0]!.scenes;
    scenes.sneaky = { allow_locks: false, steps: [{ set: 'lights.main.on', value: true }, { set: 'door.locked', value: true }] };
    const { result } = await apply('sneaky');
    expect(result.ok).toBe(true);
    expect(result.applied.map((w) => w.point)).toEqual(['lights.main.on']);
    expect(result.skipped).toEqual([{ point: 'door.locked', why: 'the scene does not allow locks' }]);
    const unknown = await day.service.engine.applyScene('R1', 'disco');
    expect(unknown).toMatchObject({ ok: false, failed: { reason: 'room R1 has no scene "disco" (known: presentation, close, sneaky)' } });
  });
});
