import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { quietSettle } from '../../devices/sim/harness.ts';
import { startEmbeddedBroker } from '../src/adapters/broker.ts';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { Enforcer, type WriteOutcome } from '../src/engine/reconcile/enforcement.ts';
import { Reconciler } from '../src/engine/reconcile/reconciler.ts';
import { silentLogger } from '../src/log.ts';
import type { PointWriter, WriteResult } from '../src/model/adapter.ts';
import { CommandRouter } from '../src/model/commands.ts';
import type { PointValue } from '../src/model/points.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { mqttDevices, testSite } from './helpers/site.ts';

/**
 * The safety interlocks (engine/reconcile/interlocks.ts) end to end: the real MQTT
 * adapter on the embedded aedes broker, the real CommandRouter, Enforcer and
 * Reconciler, on a stepped VirtualClock. The fire panel, the door, the occupancy
 * sensor and the display are plain mqtt.js clients publishing their state topics;
 * the door and the display subscribe to their command topics, so what the tests
 * count is what was actually sent on the wire.
 *
 * Between steps network I/O is let settle with exact counts (every device publish
 * received by the adapter, every command the adapter sent received by its device,
 * no write waiting for its PUBACK) plus a few quiet event-loop turns.
 *
 * The last two tests guard two defects the first version of the reconciler had (a
 * safety-input change lost during a re-ask; a returning device commanded twice).
 */

const START = Date.parse('2026-03-02T18:00:00+08:00');

const cleanups: (() => Promise<unknown> | unknown)[] = [];
/** Runs every cleanup, newest first, even when one throws; rethrows the first error. */
async function cleanUp(): Promise<void> {
  let first: unknown;
  while (cleanups.length > 0)
    try {
      await cleanups.pop()!();
    } catch (err) {
      first ??= err;
    }
  if (first) throw first;
}
afterEach(cleanUp);

/** One room with a door, an occupancy sensor, a fire-panel input and a display. */
const ONE_ROOM = `
site: { id: t, name: Interlocks, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room 1
    capacity: 10
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: t/R1/door } }
      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: t/R1/occupancy } }
      - { name: fire, profile: fire-alarm-mqtt, mqtt: { base: t/R1/fire } }
      - { name: display, profile: display-mqtt, mqtt: { base: t/R1/display } }
`;

/** The fire-panel input is configured in R1; R2 has a door and no alarm input of its own. */
const TWO_ROOMS = (covers: string) => `
site: { id: t, name: Interlocks, timezone: Asia/Shanghai }
rooms:
  - id: R1
    name: Room 1
    capacity: 10
    devices:
      - { name: fire, profile: fire-alarm-mqtt, mqtt: { base: t/R1/fire }${covers} }
      - { name: door, profile: door-mqtt, mqtt: { base: t/R1/door } }
  - id: R2
    name: Room 2
    capacity: 10
    devices:
      - { name: door, profile: door-mqtt, mqtt: { base: t/R2/door } }
`;

/** Test instrumentation around the real router: counts writes still waiting for their PUBACK. */
class CountingWriter implements PointWriter {
  inflight = 0;
  done = 0;
  constructor(private inner: PointWriter) {}
  async write(room: string, point: string, value: PointValue): Promise<WriteResult> {
    this.inflight++;
    try {
      return await this.inner.write(room, point, value);
    } finally {
      this.inflight--;
      this.done++;
    }
  }
}

interface Wire {
  /** Messages the device clients published on topics the adapter reads. */
  published: number;
  /** Commands the device clients received. */
  commands: number;
}

/** A device played by a plain mqtt.js client. */
class DevicePeer {
  /** The commands it received, parsed, in order. */
  readonly commands: Record<string, unknown>[] = [];
  /** When set, the device answers a command with this state (a device that obeys and reports). */
  echo?: (cmd: Record<string, unknown>) => Record<string, unknown> | undefined;

  constructor(
    private client: MqttClient,
    readonly base: string,
    private wire: Wire,
  ) {
    client.on('message', (topic, payload) => {
      if (topic !== `${base}/set`) return;
      wire.commands++;
      const cmd = JSON.parse(payload.toString()) as Record<string, unknown>;
      this.commands.push(cmd);
      const answer = this.echo?.(cmd);
      if (answer) this.state(answer);
    });
  }

  /** Publishes on the device's state topic (an object is sent as JSON, a string as is). */
  state(payload: Record<string, unknown> | string): void {
    this.send(`${this.base}/state`, typeof payload === 'string' ? payload : JSON.stringify(payload));
  }

  availability(text: 'online' | 'offline'): void {
    this.send(`${this.base}/availability`, text, true);
  }

  private send(topic: string, payload: string, retain = false): void {
    this.wire.published++;
    this.client.publish(topic, payload, { qos: 1, retain });
  }
}

async function startRig(yaml: string) {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
  cleanups.push(() => broker.close());
  const clock = VirtualClock.stepped(START);
  const { site, bus, store, listenerErrors } = testSite(yaml, clock);
  const adapter = new MqttAdapter({ url: broker.url, sitePrefix: 'roomctl/t', reconnect: { minMs: 100, maxMs: 1600 }, firstConnectMs: 20_000 }, mqttDevices(site), store, bus, clock, silentLogger);
  cleanups.push(() => adapter.stop());
  await adapter.start();
  expect(adapter.connected).toBe(true);
  store.start();
  cleanups.push(() => store.stop());

  const writer = new CountingWriter(new CommandRouter(site, [adapter], bus, clock));
  const enforcer = new Enforcer({ rooms: site.rooms, state: store, bus, writer, clock, verifyTimeoutMs: 15_000, attempts: 3, backoffMs: 2000 });
  cleanups.push(() => enforcer.stop());
  const reconciler = new Reconciler({ rooms: site.rooms, state: store, bus, clock, enforcer, retryMinMs: 30_000, retryMaxMs: 300_000 });
  reconciler.start();
  cleanups.push(() => reconciler.stop());

  const wire: Wire = { published: 0, commands: 0 };
  const giveUps: number[] = [];
  const settle = quietSettle(
    [
      {
        activity: () => {
          const s = adapter.stats();
          return s.received + s.commandsSent + wire.published + wire.commands + writer.done;
        },
        pending: () => {
          const s = adapter.stats();
          return Math.max(0, wire.published - s.received) + Math.max(0, s.commandsSent - wire.commands) + writer.inflight;
        },
      },
    ],
    { onGiveUp: (n) => giveUps.push(n) },
  );
  cleanups.push(() => {
    // Checked last thing in each test (cleanups run newest first, this one is pushed before any peer).
    expect(giveUps, 'a settle gave up waiting for network I/O').toEqual([]);
    expect(listenerErrors).toEqual([]);
  });

  /** A device client; with `commands` it also subscribes to its command topic. */
  const peer = async (base: string, opts: { commands?: boolean } = {}) => {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
    cleanups.push(() => client.endAsync(true));
    if (opts.commands) await client.subscribeAsync(`${base}/set`, { qos: 1 });
    return new DevicePeer(client, base, wire);
  };

  /** Lets virtual time run by `ms`, timer batch by timer batch, settling the network after each. */
  const advance = (ms: number) => clock.advance(ms, settle);

  return { site, bus, store, clock, adapter, writer, enforcer, reconciler, settle, advance, peer };
}

/** A door that obeys: it reports the lock state it was told. */
const obeying = (door: DevicePeer) => (door.echo = (cmd) => ({ contact: 'closed', locked: cmd.locked }));
const lockCommands = (door: DevicePeer) => door.commands.map((c) => c.locked);

describe('Safety interlocks over MQTT, asked before every attempt', () => {
  it('P7 safety: a fire alarm raised during the backoff between two lock attempts stops the retry — the second lock command is never sent and the outcome says the alarm is active', async () => {
    const rig = await startRig(ONE_ROOM);
    const door = await rig.peer('t/R1/door', { commands: true }); // never echoes: the first attempt is not confirmed
    const fire = await rig.peer('t/R1/fire');
    const occupancy = await rig.peer('t/R1/occupancy');
    fire.state({ active: false });
    occupancy.state({ present: false, count: 0 });
    door.state({ contact: 'closed', locked: false });
    await rig.settle();
    expect(rig.store.get('R1', 'fire.active')).toMatchObject({ value: false, quality: 'good' });

    let outcome: WriteOutcome | undefined;
    void rig.enforcer.apply('R1', 'door.locked', true).then((o) => (outcome = o));
    await rig.settle();
    // Attempt 1: no alarm, nobody in: the lock goes out.
    expect(door.commands).toEqual([{ locked: true, cmd_id: expect.any(String) }]);

    // The 15 s read-back window passes without the door reporting locked: the enforcer waits its 2 s backoff.
    await rig.advance(15_000);
    expect(outcome).toBeUndefined();
    fire.state({ active: true });
    await rig.settle();
    expect(rig.store.get('R1', 'fire.active')).toMatchObject({ value: true, quality: 'good' });

    // The backoff ends: attempt 2 asks the interlocks again and sends nothing.
    await rig.advance(60_000);
    expect(outcome).toMatchObject({ point: 'door.locked', confirmed: false, refused: true, attempts: 1, sent: true, observed: false, reason: 'refused: fire alarm fire is active' });
    expect(lockCommands(door)).toEqual([true]);
    expect(rig.adapter.stats().commandsSent).toBe(1);
  });

  it.each([
    ['a payload that is not JSON', '{"active": fal'],
    ['a reading of the wrong type', JSON.stringify({ active: 'maybe' })],
  ])(
    'P7 safety: %s from the fire panel after a good "active: false" leaves the alarm state unknown, so the lock is refused with nothing on the wire, and the lock the reconciler keeps goes through once the panel says "active: false" again',
    async (_what, garbage) => {
      const rig = await startRig(ONE_ROOM);
      const door = await rig.peer('t/R1/door', { commands: true });
      obeying(door);
      const fire = await rig.peer('t/R1/fire');
      const occupancy = await rig.peer('t/R1/occupancy');
      fire.state({ active: false });
      occupancy.state({ present: false, count: 0 });
      door.state({ contact: 'closed', locked: false });
      await rig.settle();
      expect(rig.store.get('R1', 'fire.active')).toMatchObject({ value: false, quality: 'good' });

      fire.state(garbage);
      await rig.settle();
      expect(rig.adapter.stats().rejected).toBe(1);
      // The last "no alarm" is no longer trusted, well inside its 600 s staleness window.
      expect(rig.store.get('R1', 'fire.active')).toMatchObject({ value: false, quality: 'stale' });

      const [first] = await rig.reconciler.want('R1', [{ set: 'door.locked', value: true }]);
      expect(first).toMatchObject({ confirmed: false, refused: true, attempts: 0, reason: 'refused: fire alarm fire state unknown (stale)' });
      // The reconciler keeps the lock wanted and asks again every 30 s: still refused.
      await rig.advance(60_000);
      expect(rig.reconciler.stats.refused).toBe(3);
      expect(rig.reconciler.desired('R1')).toEqual([{ point: 'door.locked', value: true, state: 'refused', reason: 'refused: fire alarm fire state unknown (stale)' }]);
      expect(door.commands).toEqual([]);
      expect(rig.adapter.stats().commandsSent).toBe(0);

      // A valid "no alarm" again: the refused lock is asked anew at once, sent once and confirmed.
      fire.state({ active: false });
      await rig.settle();
      expect(lockCommands(door)).toEqual([true]);
      expect(rig.store.get('R1', 'door.locked')).toMatchObject({ value: true, quality: 'good' });
      expect(rig.reconciler.desired('R1')).toEqual([{ point: 'door.locked', value: true, state: 'converged' }]);
      await rig.advance(5 * 60_000);
      expect(lockCommands(door)).toEqual([true]);
    },
  );

  it('P7 safety: a fire-alarm input covers the whole site by default — a room without an alarm input of its own is not locked while an alarm configured in another room is active or unknown; an input with covers: [R1] does not block R2', async () => {
    // Default coverage (site): the panel input sits in R1, R2 has none of its own.
    {
      const rig = await startRig(TWO_ROOMS(''));
      const door1 = await rig.peer('t/R1/door', { commands: true });
      const door2 = await rig.peer('t/R2/door', { commands: true });
      obeying(door1);
      obeying(door2);
      const fire = await rig.peer('t/R1/fire');
      door1.state({ contact: 'closed', locked: false });
      door2.state({ contact: 'closed', locked: false });
      await rig.settle();
      expect(await rig.enforcer.apply('R2', 'door.locked', true)).toMatchObject({ refused: true, attempts: 0, reason: 'refused: fire alarm R1/fire state unknown (no reading yet)' });

      fire.state({ active: true });
      await rig.settle();
      expect(await rig.enforcer.apply('R2', 'door.locked', true)).toMatchObject({ confirmed: false, refused: true, attempts: 0, reason: 'refused: fire alarm R1/fire is active' });
      expect(await rig.enforcer.apply('R1', 'door.locked', true)).toMatchObject({ refused: true, reason: 'refused: fire alarm fire is active' });
      await rig.advance(60_000);
      expect(door2.commands).toEqual([]);
      expect(door1.commands).toEqual([]);

      // The alarm clears: R2 locks.
      fire.state({ active: false });
      await rig.settle();
      const locking = rig.enforcer.apply('R2', 'door.locked', true);
      await rig.settle();
      expect(await locking).toMatchObject({ confirmed: true, attempts: 1 });
      expect(lockCommands(door2)).toEqual([true]);
      expect(door1.commands).toEqual([]);
      await cleanUp();
    }
    // A zone input (covers: [R1]): its alarm blocks R1's door only.
    {
      const rig = await startRig(TWO_ROOMS(', covers: [R1]'));
      const door1 = await rig.peer('t/R1/door', { commands: true });
      const door2 = await rig.peer('t/R2/door', { commands: true });
      obeying(door1);
      obeying(door2);
      const fire = await rig.peer('t/R1/fire');
      door1.state({ contact: 'closed', locked: false });
      door2.state({ contact: 'closed', locked: false });
      fire.state({ active: true });
      await rig.settle();
      expect(rig.store.get('R1', 'fire.active')).toMatchObject({ value: true, quality: 'good' });
      expect(await rig.enforcer.apply('R1', 'door.locked', true)).toMatchObject({ refused: true, attempts: 0, reason: 'refused: fire alarm fire is active' });
      const locking = rig.enforcer.apply('R2', 'door.locked', true);
      await rig.settle();
      expect(await locking).toMatchObject({ confirmed: true, attempts: 1 });
      expect(lockCommands(door2)).toEqual([true]);
      expect(door1.commands).toEqual([]);
    }
  });

  it('P7 safety: a door is not locked while people are present (a count of 3), neither on the first attempt nor on any retry, and locks once the count is 0', async () => {
    const rig = await startRig(ONE_ROOM);
    const door = await rig.peer('t/R1/door', { commands: true });
    obeying(door);
    const fire = await rig.peer('t/R1/fire');
    const occupancy = await rig.peer('t/R1/occupancy');
    fire.state({ active: false });
    occupancy.state({ present: true, count: 3 });
    door.state({ contact: 'closed', locked: false });
    await rig.settle();

    const [first] = await rig.reconciler.want('R1', [{ set: 'door.locked', value: true }]);
    expect(first).toMatchObject({ confirmed: false, refused: true, attempts: 0, reason: 'refused: room occupied' });
    await rig.advance(60_000); // retries at +30 s and +60 s
    expect(rig.reconciler.stats.refused).toBe(3);

    // People sit still: the presence detector drops out, the counter still sees 3. Asked again at once, refused on the count.
    occupancy.state({ present: false, count: 3 });
    await rig.settle();
    expect(rig.reconciler.stats.refused).toBe(4);
    expect(rig.reconciler.desired('R1')).toEqual([{ point: 'door.locked', value: true, state: 'refused', reason: 'refused: room occupied (3 present)' }]);
    await rig.advance(60_000);
    expect(rig.reconciler.stats.refused).toBe(6);
    expect(door.commands).toEqual([]);
    expect(rig.adapter.stats().commandsSent).toBe(0);

    // They leave: the count goes to 0 and the kept lock goes through, once.
    occupancy.state({ present: false, count: 0 });
    await rig.settle();
    expect(lockCommands(door)).toEqual([true]);
    expect(rig.reconciler.desired('R1')).toEqual([{ point: 'door.locked', value: true, state: 'converged' }]);
    await rig.advance(5 * 60_000);
    expect(lockCommands(door)).toEqual([true]);
  });

  it('a safety-input change that arrives while a re-ask round is in flight is not lost: a room that empties in ONE sensor message {present: false, count: 0} releases the refused lock at once, not only at the next 30 s retry', async () => {
    const rig = await startRig(ONE_ROOM);
    const door = await rig.peer('t/R1/door', { commands: true });
    obeying(door);
    const fire = await rig.peer('t/R1/fire');
    const occupancy = await rig.peer('t/R1/occupancy');
    fire.state({ active: false });
    occupancy.state({ present: true, count: 3 });
    door.state({ contact: 'closed', locked: false });
    await rig.settle();
    const [first] = await rig.reconciler.want('R1', [{ set: 'door.locked', value: true }]);
    expect(first).toMatchObject({ refused: true, reason: 'refused: room occupied' });

    // One message, two points: `present` is applied first and re-asks the lock (refused: the count still says 3);
    // `count: 0` follows in the same message while that round is still driving, and is not acted on.
    occupancy.state({ present: false, count: 0 });
    await rig.settle();
    expect(rig.store.get('R1', 'occupancy.count')).toMatchObject({ value: 0, quality: 'good' });
    expect(lockCommands(door), 'the lock should be sent as soon as the sensor reports the room empty').toEqual([true]);
  });

  it('Reconciler: nothing is sent to a display that has never been online; when it comes online the wanted power is sent and confirmed; when it then reports power off (a reboot) it is re-applied with exactly one more command', async () => {
    const rig = await startRig(ONE_ROOM);
    const display = await rig.peer('t/R1/display', { commands: true });
    display.echo = (cmd) => (typeof cmd.power === 'boolean' ? { power: cmd.power ? 'ON' : 'OFF' } : undefined);

    // want() answers "offline" once the device has stayed away for the reconciler's offline wait (30 s).
    const asked = rig.reconciler.want('R1', [{ set: 'display.power', value: true }]);
    await rig.advance(30_000);
    const [first] = await asked;
    expect(first).toMatchObject({ confirmed: false, attempts: 0, reason: 'device display is offline' });
    await rig.advance(10 * 60_000);
    expect(display.commands).toEqual([]);
    expect(rig.adapter.stats().commandsSent).toBe(0);
    expect(rig.reconciler.desired('R1')).toMatchObject([{ point: 'display.power', value: true, state: 'offline' }]);
    expect(rig.reconciler.stats.deferredOffline).toBe(1);

    // It comes online, powered off: the wanted power goes out and is confirmed (once: the last test).
    display.availability('online');
    display.state({ power: 'OFF', input: 'hdmi1' });
    await rig.settle();
    const sentOnReturn = display.commands.length;
    expect(sentOnReturn).toBeGreaterThanOrEqual(1);
    expect(display.commands.every((c) => c.power === true && typeof c.cmd_id === 'string')).toBe(true);
    expect(rig.store.get('R1', 'display.power')).toMatchObject({ value: true, quality: 'good' });
    expect(rig.reconciler.desired('R1')).toEqual([{ point: 'display.power', value: true, state: 'converged' }]);
    // Past the 3 minutes after its return in which any device's divergence counts as a reboot
    // (and inside the display's 300 s staleness window): what follows is the plant-point rule.
    await rig.advance(4 * 60_000);
    expect(display.commands).toHaveLength(sentOnReturn);
    expect(rig.store.get('R1', 'display.power')).toMatchObject({ value: true, quality: 'good' });

    // A reboot: it reports power off again. The reconciler re-applies the wanted value, once.
    display.state({ power: 'OFF' });
    await rig.settle();
    expect(display.commands.slice(sentOnReturn)).toEqual([{ power: true, cmd_id: expect.any(String) }]);
    expect(rig.reconciler.stats.reapplied).toBe(1);
    expect(rig.store.get('R1', 'display.power')).toMatchObject({ value: true, quality: 'good' });
    expect(rig.reconciler.desired('R1')).toEqual([{ point: 'display.power', value: true, state: 'converged' }]);
    await rig.advance(2 * 60_000);
    expect(display.commands).toHaveLength(sentOnReturn + 1);
    expect(rig.adapter.stats().commandsSent).toBe(sentOnReturn + 1);
  });

  it('a display that comes online is sent its wanted power once: the device\'s own reports during that round do not start another one', async () => {
    const rig = await startRig(ONE_ROOM);
    const display = await rig.peer('t/R1/display', { commands: true });
    display.echo = (cmd) => (typeof cmd.power === 'boolean' ? { power: cmd.power ? 'ON' : 'OFF' } : undefined);
    // want() answers "offline" once the device has stayed away for the reconciler's offline wait (30 s).
    const asked = rig.reconciler.want('R1', [{ set: 'display.power', value: true }]);
    await rig.advance(30_000);
    const [first] = await asked;
    expect(first).toMatchObject({ reason: 'device display is offline' });

    // Only its availability: the device's one state report is the answer to the command.
    display.availability('online');
    await rig.settle();
    expect(rig.reconciler.desired('R1')).toEqual([{ point: 'display.power', value: true, state: 'converged' }]);
    expect(display.commands, 'one command for one wanted value').toEqual([{ power: true, cmd_id: expect.any(String) }]);
  });

  it('the start-up race: a write to a device that has not answered yet waits for it and comes back confirmed once it does (within the offline wait), not "offline"', async () => {
    const rig = await startRig(ONE_ROOM);
    const display = await rig.peer('t/R1/display', { commands: true });
    display.echo = (cmd) => (typeof cmd.power === 'boolean' ? { power: cmd.power ? 'ON' : 'OFF' } : undefined);
    let answer: unknown;
    const asked = rig.reconciler.want('R1', [{ set: 'display.power', value: true }]).then(([o]) => (answer = o));
    await rig.advance(5_000);
    expect(answer).toBeUndefined();
    expect(display.commands).toEqual([]);
    // Five seconds in, the device answers its first poll: the wanted value goes out and is proven.
    display.availability('online');
    display.state({ power: 'OFF', input: 'hdmi1' });
    await rig.settle();
    await asked;
    expect(answer).toMatchObject({ point: 'display.power', confirmed: true, sent: true });
    expect(display.commands).toEqual([{ power: true, cmd_id: expect.any(String) }]);
  });
});
