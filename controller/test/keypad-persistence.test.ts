import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { KeypadScenes } from '../src/api/keypad.ts';
import type { SceneResult } from '../src/engine/reconcile/scenes.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Issue 11, item 4: wall-keypad presses survive a broker restart. roomctl's MQTT
 * connection has a fixed client id and a persistent session (clean: false) with QoS 1
 * subscriptions, so the broker queues presses for it while it is away; a press that is
 * delivered twice (QoS 1 is at least once) is applied once, by its id. Against a real
 * Mosquitto that saves its sessions on every change, SIGKILLed in the middle of a run
 * of presses; the presses go to the real keypad listener through the real adapter.
 */
const SITE = siteFromYaml(`
site: { id: kp, name: Keypads, timezone: Asia/Shanghai }
rooms:
  - { id: R1, name: Room 1, capacity: 8, scenes: { meeting: { steps: [ { wait_ms: 0 } ] }, break: { steps: [ { wait_ms: 0 } ] } } }
`);
const TOPIC = 'roomctl/kp/rooms/R1/scene/set';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function roomctlKeypads(url: string) {
  const bus = new EventBus();
  const adapter = new MqttAdapter({ url, clientId: 'roomctl-kp', sitePrefix: 'roomctl/kp', reconnect: { minMs: 100, maxMs: 2000 } }, [], new RoomStateStore(SITE, bus, systemClock), bus, systemClock, silentLogger);
  const applied: string[] = [];
  const keypads = new KeypadScenes({
    rooms: SITE.rooms,
    sitePrefix: 'roomctl/kp',
    subscribe: (filter, handler) => adapter.subscribe(filter, handler),
    applyScene: async (room, scene) => {
      applied.push(`${room}:${scene}`);
      return { room, scene, ok: true } as unknown as SceneResult;
    },
    logger: silentLogger,
  });
  keypads.start();
  await adapter.start();
  cleanups.push(() => adapter.stop(), () => keypads.stop());
  return { adapter, keypads, applied };
}

describe('keypad presses across a broker restart', () => {
  let broker: Mosquitto;

  it('applies a press delivered twice (same id) once, and one without an id repeated at once also once', async () => {
    broker = await startMosquitto({ persistence: true });
    cleanups.push(() => broker.dispose());
    const { keypads, applied } = await roomctlKeypads(broker.url);
    const keypad = await mqtt.connectAsync(broker.url, { clientId: 'kp-r1-dup', reconnectPeriod: 0 });
    cleanups.push(() => keypad.endAsync(true));
    for (const payload of [{ scene: 'meeting', id: 'a1' }, { scene: 'meeting', id: 'a1' }, { scene: 'break', id: 'a2' }]) await keypad.publishAsync(TOPIC, JSON.stringify(payload), { qos: 1 });
    await keypad.publishAsync(TOPIC, 'meeting', { qos: 1 });
    await keypad.publishAsync(TOPIC, 'meeting', { qos: 1 });
    await waitFor(() => keypads.counts.accepted + keypads.counts.duplicates === 5, 10_000, 'five presses seen');
    expect(keypads.counts).toMatchObject({ accepted: 3, duplicates: 2, rejected: 0 });
    expect(keypads.pressIdsOf('R1')).toEqual(['a1', 'a2']);
    // Each accepted press runs or is replaced by a newer one waiting behind it (the last press wins).
    await waitFor(() => applied.length + keypads.counts.replaced === 3, 10_000, 'three presses run or replaced');
    expect(applied.at(-1)).toBe('R1:meeting');
    await broker.dispose();
  });

  it('executes every acknowledged press exactly once while Mosquitto is SIGKILLed and restarted in the middle of them', async () => {
    broker = await startMosquitto({ persistence: true });
    cleanups.push(() => broker.dispose());
    const { adapter, keypads } = await roomctlKeypads(broker.url);
    // Mosquitto has saved roomctl's persistent session (its QoS 1 subscription).
    await waitFor(() => existsSync(join(broker.dataDir, 'mosquitto.db')), 15_000, 'the session saved');
    const keypad: MqttClient = mqtt.connect(broker.url, { clientId: 'kp-r1', clean: false, reconnectPeriod: 200, connectTimeout: 5000 });
    cleanups.push(() => keypad.endAsync(true));
    await new Promise<void>((resolve) => keypad.once('connect', () => resolve()));

    const PRESSES = 60;
    const acked: string[] = [];
    let restarted: Promise<void> | undefined;
    for (let i = 1; i <= PRESSES; i++) {
      const id = `p${i}`;
      await keypad.publishAsync(TOPIC, JSON.stringify({ scene: i % 2 ? 'meeting' : 'break', id }), { qos: 1 });
      acked.push(id);
      if (i === 20)
        restarted = (async () => {
          await broker.stop('SIGKILL');
          await new Promise((r) => setTimeout(r, 1500)); // presses 21… wait in the keypad meanwhile
          await broker.restart();
        })();
    }
    await restarted;
    await waitFor(() => keypads.counts.accepted === PRESSES, 30_000, `all ${PRESSES} presses taken (got ${keypads.counts.accepted})`);
    expect(acked).toHaveLength(PRESSES);
    expect([...keypads.pressIdsOf('R1')].sort()).toEqual([...acked].sort());
    expect(keypads.counts.accepted).toBe(PRESSES);
    expect(keypads.counts.rejected).toBe(0);
    expect(adapter.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(adapter.connected).toBe(true);
  });
});
