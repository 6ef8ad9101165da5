import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localParts, localSpan, localStamp, localWhen, offsetText } from '../src/model/local-time.ts';
import { apiFixture, type ApiFixture } from './helpers/api-site.ts';

/**
 * Times a person reads are local to the site, with the zone named where they could be
 * misread (issue 13, item 4): `09:52` in an alert about today, `2026-12-03 09:52 +08:00`
 * in an error message; machine fields (JSON `start`, `at`) stay epoch/ISO UTC. The
 * formatting itself, then the API's booking errors of a real service (site zone
 * Asia/Shanghai) over fastify's inject().
 */
const SH = 'Asia/Shanghai';
const NY = 'America/New_York';

describe('local times for people (model/local-time.ts)', () => {
  it('reads the local wall clock exactly as Intl does, second by second across every offset change of two years (the offset is cached per quarter hour)', () => {
    // Zones with half-hour and 45-minute offsets and a half-hour daylight-saving shift (Lord Howe).
    const zones = ['Asia/Shanghai', 'Europe/London', 'America/New_York', 'America/St_Johns', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Asia/Kathmandu', 'UTC'];
    let compared = 0;
    for (const timeZone of zones) {
      const intl = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
      // A step that is not a divisor of a quarter hour lands on every second of it over time.
      for (let t = Date.UTC(2025, 0, 1); t < Date.UTC(2027, 0, 1); t += 61 * 60_000 + 7_001) {
        const p: Record<string, number> = {};
        for (const part of intl.formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
        expect(localParts(t, timeZone), `${timeZone} at ${new Date(t).toISOString()}`).toEqual({ year: p.year, month: p.month, day: p.day, hour: p.hour! % 24, minute: p.minute, second: p.second });
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100_000);
  });

  it('writes an instant as the site’s local date, time and offset, across a daylight-saving change', () => {
    expect(localStamp(Date.parse('2026-12-03T01:52:00Z'), SH)).toBe('2026-12-03 09:52 +08:00');
    expect(localStamp(Date.parse('2026-12-02T20:05:00Z'), SH)).toBe('2026-12-03 04:05 +08:00');
    expect(localStamp(Date.parse('2026-07-01T13:00:00Z'), NY)).toBe('2026-07-01 09:00 -04:00');
    expect(localStamp(Date.parse('2026-12-01T14:00:00Z'), NY)).toBe('2026-12-01 09:00 -05:00');
    expect(offsetText(Date.parse('2026-12-01T14:00:00Z'), 'UTC')).toBe('+00:00');
    expect(offsetText(Date.parse('2026-12-01T14:00:00Z'), 'Asia/Kolkata')).toBe('+05:30');
  });

  it('writes a span on one local day once, and both ends in full when it crosses midnight or an offset change', () => {
    expect(localSpan(Date.parse('2026-12-03T01:00:00Z'), Date.parse('2026-12-03T02:30:00Z'), SH)).toBe('2026-12-03 09:00–10:30 +08:00');
    expect(localSpan(Date.parse('2026-12-03T15:00:00Z'), Date.parse('2026-12-03T17:00:00Z'), SH)).toBe('2026-12-03 23:00 +08:00 – 2026-12-04 01:00 +08:00');
    // 2026-11-01 02:00 EDT → 01:00 EST in New York.
    expect(localSpan(Date.parse('2026-11-01T05:00:00Z'), Date.parse('2026-11-01T07:00:00Z'), NY)).toBe('2026-11-01 01:00 -04:00 – 2026-11-01 02:00 -05:00');
  });

  it('gives an alert’s time as HH:MM when it is today at the site, and in full when it is another local day', () => {
    const now = Date.parse('2026-12-03T02:00:00Z'); // 10:00 in Shanghai
    expect(localWhen(Date.parse('2026-12-03T01:52:00Z'), now, SH)).toBe('09:52');
    // 2026-12-02 23:30 UTC is already 12-03 07:30 in Shanghai: the same local day.
    expect(localWhen(Date.parse('2026-12-02T23:30:00Z'), now, SH)).toBe('07:30');
    expect(localWhen(Date.parse('2026-12-02T09:40:00Z'), now, SH)).toBe('2026-12-02 17:40 +08:00');
  });
});

describe('booking errors of the API name local times with the zone (site Asia/Shanghai)', () => {
  let f: ApiFixture;
  let token: string;
  const put = (id: string, start: string, end: string) =>
    f.app.inject({ method: 'PUT', url: `/api/v1/meetings/${id}`, headers: { authorization: `Bearer ${token}` }, payload: { room: 'A-101', start, end, level: 'normal', attendees: 4 } });

  beforeAll(async () => {
    f = await apiFixture();
    token = f.token('scheduler');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('says when two bookings overlap in the site’s local time, though one was sent in UTC and one with +08:00', async () => {
    expect((await put('OA-1', '2030-06-05T09:00:00+08:00', '2030-06-05T10:00:00+08:00')).statusCode).toBe(201);
    const clash = await put('OA-2', '2030-06-05T01:30:00Z', '2030-06-05T03:00:00Z');
    expect(clash.statusCode).toBe(409);
    expect(clash.json().message).toBe('meeting OA-2 (2030-06-05 09:30–11:00 +08:00) overlaps meeting OA-1 (2030-06-05 09:00–10:00 +08:00) in room A-101');
    // The machine fields stay as they are: epoch ms in the stored meeting.
    const got = await f.app.inject({ method: 'GET', url: '/api/v1/meetings/OA-1', headers: { authorization: `Bearer ${token}` } });
    expect(got.json()).toMatchObject({ id: 'OA-1', start: Date.parse('2030-06-05T01:00:00Z'), end: Date.parse('2030-06-05T02:00:00Z') });
  });

  it('says a booking in the past ended at a local time, and an end before its start with both local times', async () => {
    const past = await put('OA-3', '2020-01-01T00:00:00Z', '2020-01-01T01:00:00Z');
    expect(past.statusCode).toBe(422);
    expect(past.json().message).toBe('meeting OA-3 ends 2020-01-01 09:00 +08:00, which is already past');
    const backwards = await put('OA-4', '2030-06-05T14:00:00+08:00', '2030-06-05T13:00:00+08:00');
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json().message).toBe('invalid meeting OA-4: end (2030-06-05 13:00 +08:00) must be after start (2030-06-05 14:00 +08:00)');
  });
});
