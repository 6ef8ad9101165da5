import { describe, expect, it } from 'vitest';
import { checkReading, valueForWrite } from '../src/model/values.ts';
import { loadProfiles } from '../src/config/profiles.ts';
import { isRoomctlError, ErrorCode } from '../src/errors.ts';

const { profiles } = loadProfiles();
const fcu = profiles.get('fcu-modbus')!.points;
const display = profiles.get('display-mqtt')!.points;

describe('commands to devices', () => {
  it('are clamped into the point safe range: a 45 °C setpoint goes out as 30 (P5)', () => {
    expect(valueForWrite('hvac.setpoint', fcu.setpoint!, 45)).toEqual({ value: 30, clamped: true });
    expect(valueForWrite('hvac.setpoint', fcu.setpoint!, 10)).toEqual({ value: 16, clamped: true });
    expect(valueForWrite('hvac.setpoint', fcu.setpoint!, 23)).toEqual({ value: 23, clamped: false });
  });

  it('are refused for read-only points and values of the wrong type', () => {
    expect(() => valueForWrite('hvac.temperature', fcu.temperature!, 20)).toThrow(/read-only/);
    try {
      valueForWrite('hvac.mode', fcu.mode!, 'turbo');
    } catch (err) {
      expect(isRoomctlError(err, ErrorCode.PointValueInvalid)).toBe(true);
    }
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
