import ModbusRTU from 'modbus-serial';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker } from '../src/adapters/broker.ts';
import { silentLogger } from '../src/log.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { SimulatedBuilding } from '../../devices/sim/building.ts';
import { FaultError, REBOOT_DEFAULT_MS, parseFault } from '../../devices/sim/faults.ts';
import { freePort, quietSettle } from '../../devices/sim/harness.ts';
import { simulationStart } from '../../devices/sim/meetings.ts';
import { faultKindList } from '../src/cli/sim-fault.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Fault `device_reboot` (issue 10), seen from the wire the way a controller sees a
 * real unit: a plain modbus-serial client on the simulator's Modbus TCP gateway and a
 * plain mqtt.js client on the broker the simulated MQTT devices use, on a stepped
 * VirtualClock. Before: what was written reads back. During: no Modbus answer, the
 * MQTT device's last will says offline and it publishes nothing. After: every
 * writable point is back at its power-on default.
 */

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
});

interface Message {
  topic: string;
  payload: string;
  /** Virtual time it arrived. */
  at: number;
}

async function rebootRig() {
  const port = await freePort();
  const site = siteFromYaml(`
site: { id: rb, name: Reboot, timezone: Asia/Shanghai }
modbus: { gateways: [ { id: gw, tcp: { host: 127.0.0.1, port: ${port} } } ] }
rooms:
  - id: R1
    name: Room
    capacity: 20
    devices:
      - { name: hvac, profile: fcu-modbus, modbus: { gateway: gw, unit: 1 } }
      - { name: fresh_air, profile: fau-modbus, modbus: { gateway: gw, unit: 2 } }
      - { name: display, profile: display-mqtt, mqtt: { base: rb/R1/display } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: rb/R1/dsp }, channels: { mic: 2 } }
      - { name: lights, profile: lighting-mqtt, mqtt: { base: rb/R1/lights } }
      - { name: door, profile: door-mqtt, mqtt: { base: rb/R1/door } }
simulation: { day: 2025-07-16, start: "09:00", rooms: { R1: { wireless_mics: [2] } } }
`);
  const clock = VirtualClock.stepped(simulationStart(site));
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
  stops.push(() => broker.close());
  const sim = new SimulatedBuilding({ site, clock, brokerUrl: broker.url });
  await sim.start();
  stops.push(() => sim.stop());

  const messages: Message[] = [];
  const client: MqttClient = await mqtt.connectAsync(broker.url, { clientId: 'reboot-test', reconnectPeriod: 0 });
  stops.push(() => client.endAsync(true));
  client.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString(), at: clock.now() }));
  await client.subscribeAsync('rb/#', { qos: 1 });
  let sent = 0;
  // Every publish of the simulator reaches this client once (each retained topic once at
  // subscribe time); the simulator counts a last will the broker publishes for a device it
  // cut off as that device's publish; a command is the test's own.
  const baseline = sim.stats.published - sim.stats.retainedTopics;
  const fromSim = () => messages.filter((m) => !m.topic.endsWith('/set')).length;
  const delivery = { activity: () => messages.length + sent, pending: () => Math.max(0, sim.stats.published - baseline - fromSim()) };
  const settle = quietSettle([sim, delivery]);
  /** A command to a simulated device; unless it is expected to be lost, waits (real time) until the device has it. */
  const publish = async (topic: string, body: unknown, lost = false) => {
    sent++;
    const before = sim.stats.commands;
    await client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
    if (!lost) await waitFor(() => sim.stats.commands > before, 5000, `${topic} at the device`);
    await settle();
  };
  /** The last JSON state the test client saw on a topic. */
  const last = (topic: string): Record<string, unknown> | string | undefined => {
    const m = messages.findLast((x) => x.topic === topic);
    if (!m) return undefined;
    try {
      return JSON.parse(m.payload) as Record<string, unknown>;
    } catch {
      return m.payload;
    }
  };

  const modbus = new ModbusRTU();
  await modbus.connectTCP('127.0.0.1', { port });
  modbus.setTimeout(300);
  stops.push(() => new Promise<void>((resolve) => modbus.close(() => resolve())));
  const unit = (id: number) => modbus.setID(id);
  await waitFor(() => messages.some((m) => m.topic === 'rb/R1/display/state'), 5000, 'the display state');
  await settle();
  return { site, clock, sim, messages, settle, publish, last, modbus, unit };
}

describe('fault device_reboot', () => {
  it('parses a target and a duration in seconds, and refuses a duration that is not one', () => {
    expect(parseFault('device_reboot')).toEqual({ kind: 'device_reboot', target: undefined });
    expect(parseFault('device_reboot:display:30')).toEqual({ kind: 'device_reboot', target: 'display', durationMs: 30_000 });
    expect(parseFault('device_reboot::5')).toEqual({ kind: 'device_reboot', target: undefined, durationMs: 5_000 });
    expect(() => parseFault('device_reboot:display:soon')).toThrow(FaultError);
    expect(() => parseFault('device_reboot:display:0')).toThrow(/not a duration/);
    expect(REBOOT_DEFAULT_MS).toBe(90_000);
    // `roomctl sim fault --list` names every kind with its description.
    expect(faultKindList()).toMatch(/^device_reboot +a device loses power: offline for a while \(default 90 s/m);
    expect(faultKindList()).toMatch(/^low_mic_battery +a wireless microphone/m);
  });

  it('takes a Modbus unit off the wire for 90 s of clock time and brings it back with its factory state', { timeout: 60_000 }, async () => {
    const rig = await rebootRig();
    const { modbus, clock } = rig;
    rig.unit(1);
    // Before: what is written reads back.
    await modbus.writeRegister(0, 210); // setpoint 21.0 °C
    await modbus.writeRegister(1, 1); // mode cool
    await modbus.writeRegister(2, 3); // fan high
    await modbus.writeCoil(0, true); // power on
    rig.unit(2);
    await modbus.writeCoil(0, true); // the fresh-air unit next to it: power on
    rig.unit(1);
    expect((await modbus.readHoldingRegisters(0, 3)).data).toEqual([210, 1, 3]);
    expect((await modbus.readCoils(0, 1)).data[0]).toBe(true);
    await clock.advance(60_000, rig.settle);
    expect((await modbus.readInputRegisters(1, 1)).data[0], 'the valve opens: the unit is cooling').toBeGreaterThan(0);

    const fault = rig.sim.injectFault('R1', 'device_reboot'); // default target: the first FCU
    const since = clock.now();
    expect(fault).toMatchObject({ room: 'R1', kind: 'device_reboot', target: 'hvac', since, until: since + 90_000 });
    expect(rig.sim.faults()).toEqual([expect.objectContaining({ kind: 'device_reboot', target: 'hvac' })]);

    // During: no answers at all (reads and writes time out), while its neighbour answers.
    await clock.advance(30_000, rig.settle);
    await expect(modbus.readHoldingRegisters(0, 3)).rejects.toThrow(/timed out/i);
    await expect(modbus.writeRegister(0, 230)).rejects.toThrow(/timed out/i);
    rig.unit(2);
    expect((await modbus.readCoils(0, 1)).data[0]).toBe(true);
    rig.unit(1);
    await clock.advance(59_000, rig.settle); // 89 s after the power cut: still dark
    await expect(modbus.readCoils(0, 1)).rejects.toThrow(/timed out/i);

    // After: back, with the power-on defaults, not with what it was told before or during.
    await clock.advance(1_000, rig.settle);
    expect(rig.sim.faults(), 'the fault clears itself once the unit is back').toEqual([]);
    expect((await modbus.readHoldingRegisters(0, 3)).data).toEqual([240, 0, 0]); // 24.0 °C, auto, auto
    expect((await modbus.readCoils(0, 1)).data[0]).toBe(false);
    expect((await modbus.readInputRegisters(1, 1)).data[0], 'valve closed: the unit is off').toBe(0);
    expect((await modbus.readInputRegisters(2, 2)).data.some((w) => w > 0), 'run hours survive a reboot').toBe(true);
    // A --clear afterwards is accepted and changes nothing.
    expect(rig.sim.injectFault('R1', 'device_reboot', true)).toMatchObject({ kind: 'device_reboot', target: 'hvac' });
    await modbus.writeRegister(0, 225);
    await clock.advance(10_000, rig.settle);
    expect((await modbus.readHoldingRegisters(0, 1)).data).toEqual([225]);
    rig.unit(2);
    expect((await modbus.readCoils(0, 1)).data[0], 'the neighbour was never rebooted').toBe(true);
  });

  it('disconnects an MQTT device for the reboot and brings it back with its factory state: display off, DSP muted, lights off, door locked', { timeout: 60_000 }, async () => {
    const rig = await rebootRig();
    const { clock, publish, last } = rig;
    // Before: commands take effect and read back.
    await publish('rb/R1/display/set', { power: true });
    await publish('rb/R1/display/set', { input: 'hdmi2' });
    await publish('rb/R1/dsp/master/set', { mute: false });
    await publish('rb/R1/dsp/mic/1/set', { mute: false });
    await publish('rb/R1/dsp/mic/2/set', { mute: false });
    await publish('rb/R1/dsp/mic/1/set', { test: true });
    await publish('rb/R1/lights/main/set', { on: true });
    await publish('rb/R1/lights/main/set', { level: 80 });
    await publish('rb/R1/door/set', { locked: false });
    await clock.advance(30_000, rig.settle); // the projector warms up
    expect(last('rb/R1/display/state')).toMatchObject({ power: 'ON', input: 'hdmi2' });
    expect(last('rb/R1/dsp/master')).toMatchObject({ mute: false });
    expect(last('rb/R1/dsp/mic/1')).toMatchObject({ mute: false, testing: true, level: expect.any(Number) });
    expect(last('rb/R1/lights/main/state')).toMatchObject({ on: true, level: 80 });
    expect(last('rb/R1/door/state')).toMatchObject({ locked: false, contact: 'closed' });
    const battery = (last('rb/R1/dsp/mic/2') as { battery: number }).battery;

    for (const device of ['display:120', 'audio', 'lights', 'door']) rig.sim.injectFault('R1', `device_reboot:${device}`);
    const cut = clock.now();
    // The broker publishes each device's last will: offline.
    await waitFor(() => ['display', 'dsp', 'lights', 'door'].every((d) => last(`rb/R1/${d}/availability`) === 'offline'), 5000, 'the last wills');

    // During: nothing from them, and a command sent now is lost with the power.
    await publish('rb/R1/display/set', { power: true }, true);
    await clock.advance(60_000, rig.settle);
    const during = rig.messages.filter((m) => m.at > cut && !m.topic.endsWith('/availability') && !m.topic.endsWith('/set'));
    expect(during.filter((m) => /display|dsp|lights|door/.test(m.topic))).toEqual([]);

    // After 90 s the DSP, lights and door are back; the display (120 s) is still dark.
    await clock.advance(31_000, rig.settle);
    for (const d of ['dsp', 'lights', 'door']) expect(last(`rb/R1/${d}/availability`), d).toBe('online');
    expect(last('rb/R1/display/availability')).toBe('offline');
    expect(last('rb/R1/dsp/master')).toEqual({ mute: true });
    expect(last('rb/R1/dsp/mic/1')).toEqual({ mute: true, testing: false });
    // A battery keeps its charge through a DSP reboot (a muted mic outside a meeting sits in its charger).
    expect((last('rb/R1/dsp/mic/2') as { battery: number }).battery).toBeGreaterThanOrEqual(battery);
    expect(last('rb/R1/lights/main/state')).toEqual({ on: false, level: 0 });
    expect(last('rb/R1/door/state')).toEqual({ contact: 'closed', locked: true });
    expect(rig.sim.faults().map((f) => f.target)).toEqual(['display']);

    await clock.advance(30_000, rig.settle);
    expect(last('rb/R1/display/availability')).toBe('online');
    expect(last('rb/R1/display/state')).toEqual({ power: 'OFF', input: 'hdmi1' });
    expect(rig.sim.faults()).toEqual([]);
    // Back for good: it takes commands again.
    await publish('rb/R1/display/set', { power: true });
    await clock.advance(30_000, rig.settle);
    expect(last('rb/R1/display/state')).toMatchObject({ power: 'ON' });
  });

  it('comes back at once when the reboot is cleared early, and refuses a device the room does not have', { timeout: 30_000 }, async () => {
    const rig = await rebootRig();
    rig.unit(1);
    await rig.modbus.writeCoil(0, true);
    rig.sim.injectFault('R1', 'device_reboot:hvac:600');
    await rig.clock.advance(20_000, rig.settle);
    await expect(rig.modbus.readCoils(0, 1)).rejects.toThrow(/timed out/i);
    rig.sim.injectFault('R1', 'device_reboot:hvac', true);
    await rig.settle();
    expect((await rig.modbus.readCoils(0, 1)).data[0]).toBe(false);
    expect(() => rig.sim.injectFault('R1', 'device_reboot:projector')).toThrow(/no device "projector"/);
    // The self-clearing timer of the early-cleared reboot is gone: nothing happens at 600 s.
    await rig.modbus.writeCoil(0, true);
    await rig.clock.advance(600_000, rig.settle);
    expect((await rig.modbus.readCoils(0, 1)).data[0]).toBe(true);
  });
});
