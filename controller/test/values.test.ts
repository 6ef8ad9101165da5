import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { checkReading, valueForWrite } from '../src/model/values.ts';
import { loadProfiles } from '../src/config/profiles.ts';
import { isRoomctlError, ErrorCode } from '../src/errors.ts';
import { startEmbeddedBroker } from '../src/adapters/broker.ts';
import { MqttAdapter } from '../src/adapters/mqtt.ts';
import { silentLogger } from '../src/log.ts';
import { systemClock } from '../src/model/clock.ts';
import { CommandRouter } from '../src/model/commands.ts';
import { mqttDevices, testSite } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/** Everything a test starts is stopped here, newest first, even when the test fails. */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const { profiles } = loadProfiles();
const fcu = profiles.get('fcu-modbus')!.points;
const display = profiles.get('display-mqtt')!.points;

describe('commands to devices', () => {
  it('are clamped into the point safe range: a 45 °C setpoint goes out as 30 (P5)', () => {
    expect(valueForWrite('hvac.setpoint', fcu.setpoint!, 45)).toEqual({ value: 30, clamped: true });
    expect(valueForWrite('hvac.setpoint', fcu.setpoint!, 10)).toEqual({ value: 16, clamped: true });
    expect(valueForWrite('hvac.setpoint', fcu.setpoint!, 23)).toEqual({ value: 23, clamped: false });
  });

  it('are refused for read-only points and values of the wrong type, and an enum point refuses a value outside its list ("turbo") with an error naming the point and the values it takes', () => {
    expect(() => valueForWrite('hvac.temperature', fcu.temperature!, 20)).toThrow(/read-only/);
    expect(() => valueForWrite('hvac.mode', fcu.mode!, 'turbo')).toThrow('point hvac.mode takes one of auto/cool/heat/fan, got "turbo"');
    let thrown: unknown;
    try {
      valueForWrite('hvac.mode', fcu.mode!, 'turbo');
    } catch (err) {
      thrown = err;
    }
    expect(isRoomctlError(thrown, ErrorCode.PointValueInvalid)).toBe(true);
    expect(valueForWrite('hvac.mode', fcu.mode!, 'cool')).toEqual({ value: 'cool', clamped: false });
    expect(() => valueForWrite('hvac.setpoint', fcu.setpoint!, Number.NaN)).toThrow(/takes a number/);
  });
});

describe('readings from devices', () => {
  it('are accepted when typed and in range, and rejected with a reason otherwise', () => {
    expect(checkReading(fcu.temperature!, 21.5)).toEqual({ ok: true, value: 21.5 });
    expect(checkReading(fcu.temperature!, 99)).toEqual({ ok: false, reason: '99 is above the point\'s maximum 60' });
    expect(checkReading(fcu.temperature!, 'warm')).toMatchObject({ ok: false });
    expect(checkReading(fcu.mode!, 'cool')).toEqual({ ok: true, value: 'cool' });
    expect(checkReading(fcu.mode!, 'turbo')).toMatchObject({ ok: false });
    expect(checkReading(fcu.power!, { on: true })).toMatchObject({ ok: false });
  });

  it('are translated through a profile map before checking (ON/OFF → true/false)', () => {
    expect(checkReading(display.power!, 'ON', display.power!.mqtt!.map)).toEqual({ ok: true, value: true });
    expect(checkReading(display.power!, 'DIMMED', display.power!.mqtt!.map)).toMatchObject({ ok: false });
  });
});

describe('an out-of-list value never reaches a device', () => {
  it('a display over MQTT (embedded aedes broker, its own subscription) never receives input "turbo": the write is refused with a clear error and nothing is published; a valid input sent after it is the only command the device sees', async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger: silentLogger });
    cleanups.push(() => broker.close());
    const { site, bus, store } = testSite();
    const adapter = new MqttAdapter({ url: broker.url, sitePrefix: 'roomctl/test', reconnect: { minMs: 100, maxMs: 1600 }, firstConnectMs: 20_000 }, mqttDevices(site), store, bus, systemClock, silentLogger);
    cleanups.push(() => adapter.stop());
    await adapter.start();
    const router = new CommandRouter(site, [adapter], bus, systemClock);

    // The display: a plain mqtt.js client on the display's command topic (and everything under its base).
    const device = await mqtt.connectAsync(broker.url);
    cleanups.push(() => device.endAsync(true));
    const received: { topic: string; payload: string }[] = [];
    device.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    await device.subscribeAsync('t/3F-301/display/#', { qos: 1 });

    await expect(router.write('3F-301', 'display.input', 'turbo')).rejects.toThrow('point display.input takes one of hdmi1/hdmi2/usbc/wireless, got "turbo"');
    await expect(router.write('3F-301', 'display.input', 'turbo')).rejects.toSatisfy((err) => isRoomctlError(err, ErrorCode.PointValueInvalid));
    expect(adapter.stats().commandsSent).toBe(0);

    // One topic, one publisher: a "turbo" sent before would arrive before this one.
    await router.write('3F-301', 'display.input', 'hdmi2');
    await waitFor(() => received.length > 0, 10_000, 'the valid command at the display');
    expect(received.map((m) => ({ topic: m.topic, input: JSON.parse(m.payload).input }))).toEqual([{ topic: 't/3F-301/display/set', input: 'hdmi2' }]);
    expect(received.map((m) => m.payload).join('\n')).not.toContain('turbo');
    expect(adapter.stats().commandsSent).toBe(1);
  });
});
