import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CalendarFeeds } from '../src/calendar/calendar-feeds.ts';
import { SimDay } from '../src/cli/sim-day.ts';
import { feedMeetingId } from '../src/calendar/feed-meetings.ts';
import { AlertBook } from '../src/engine/alerts/alert-book.ts';
import { Schedule } from '../src/engine/timeline/schedule.ts';
import { createLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import type { AlertEvent } from '../src/model/events.ts';
import { VirtualClock } from '../src/model/virtual-clock.ts';
import { startFeedServer, type FeedServer } from './helpers/feed-server.ts';
import { startRadicale, type Radicale } from './helpers/radicale.ts';
import { siteFromYaml } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Calendar feeds (issue 7, P13) on virtual time, served by a real CalDAV server
 * (Radicale) and by a plain HTTP server with ETags, from exports in the shapes
 * Exchange/Outlook, Google and a CalDAV client write (fixtures/ics/).
 * Virtual time starts Sunday 2027-03-07 16:00 UTC (Monday 00:00 in Beijing); the
 * United States switch to daylight saving on 14 March 2027.
 */
const T0 = Date.parse('2027-03-07T16:00:00Z');
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'ics', name), 'utf8');
const z = (iso: string) => Date.parse(iso);
const SYNC = '040000008200E00074C5B7101A82E008000000009A1F0C2D6E2FDB01000000000000000010000000A1B2C3D4E5F60718293A4B5C6D7E8F90';
const VIP = '040000008200E00074C5B7101A82E00800000000C07A3B1E6F2FDB010000000000000000100000005C4E8F2A9B3D7E6F1A2B3C4D5E6F7081';
const NYCALL = '040000008200E00074C5B7101A82E00800000000D1E2F3A4B5C6DB010000000000000000100000009F8E7D6C5B4A39281706F5E4D3C2B1A0';
const TITLES = ['Project sync', 'Reception of the provincial delegation', 'Call with the New York office', 'Daily stand-up', 'Vendor demo', 'Wang Fang', 'Office of the Director'];

function siteYaml(rooms: { id: string; calendar: string }[], extra = ''): string {
  return `
site: { id: cal, name: Calendar Test, timezone: Asia/Shanghai }
${extra}
rooms:
${rooms.map((r) => `  - id: ${r.id}\n    name: Room ${r.id}\n    capacity: 20\n    calendar: ${r.calendar}`).join('\n')}
`;
}

function harness(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const clock = VirtualClock.stepped(T0);
  const site = siteFromYaml(yaml, env);
  const listenerErrors: string[] = [];
  const bus = new EventBus((event, err) => listenerErrors.push(`${event}: ${(err as Error).message}`));
  const alerts: AlertEvent[] = [];
  bus.on('alert', (a) => alerts.push(a));
  const schedule = new Schedule({ clock, rooms: site.rooms.map((r) => r.id) });
  const logLines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(...String(chunk).split('\n').filter(Boolean)), done()) });
  const feeds = new CalendarFeeds({ site, schedule, alerts: new AlertBook(bus, clock), clock, logger: createLogger('debug', sink) });
  const tick = (ms: number) => clock.advance(ms, () => feeds.whenIdle());
  const booked = (room: string) =>
    schedule.inRoom(room).map((m) => ({ id: m.id, start: new Date(m.start).toISOString(), end: new Date(m.end).toISOString(), level: m.level, attendees: m.attendees }));
  return { clock, site, bus, alerts, schedule, feeds, tick, booked, logs: () => logLines.join('\n'), listenerErrors };
}

const iso = (s: string) => new Date(s).toISOString();
const meeting = (id: string, start: string, end: string, level = 'normal', attendees = 0) => ({ id, start: iso(start), end: iso(end), level, attendees });

describe('calendar feeds', () => {
  let radicale: Radicale;
  let http: FeedServer;
  let running: CalendarFeeds[] = [];
  const started = async (h: ReturnType<typeof harness>) => {
    running.push(h.feeds);
    h.feeds.start();
    await h.feeds.whenIdle();
    return h;
  };

  beforeAll(async () => {
    radicale = await startRadicale();
    http = await startFeedServer();
  });
  afterEach(async () => {
    for (const f of running) await f.stop();
    running = [];
  });
  afterAll(async () => {
    await http?.close();
    await radicale?.stop();
  });

  it('turns an Exchange room calendar served by Radicale into bookings: recurrences with an EXDATE and a moved instance, a VIP1 category, attendees, and its own VTIMEZONEs across the New York DST switch; all-day and cancelled events are ignored', async () => {
    const url = await radicale.putCalendar('exchange-3f301-a', fixture('exchange-3F-301.ics'));
    const h = await started(harness(siteYaml([{ id: '3F-301', calendar: `{ url: "${url}" }` }])));
    const id = (uid: string, rid?: string) => feedMeetingId('3F-301', uid, rid === undefined ? undefined : z(rid));
    expect(h.booked('3F-301')).toEqual([
      // Mondays and Wednesdays 09:30 Beijing; Wednesday 10 March is an EXDATE.
      meeting(id(SYNC, '2027-03-08T01:30:00Z'), '2027-03-08T01:30:00Z', '2027-03-08T02:00:00Z', 'normal', 2),
      meeting(id(VIP), '2027-03-09T07:00:00Z', '2027-03-09T08:30:00Z', 'vip1', 3),
      // Thursdays 20:00 New York: 01:00 UTC in winter time, 00:00 UTC after 14 March.
      meeting(id(NYCALL, '2027-03-12T01:00:00Z'), '2027-03-12T01:00:00Z', '2027-03-12T02:00:00Z'),
      // The 15 March instance keeps its RECURRENCE-ID (09:30) but moved to 14:00.
      meeting(id(SYNC, '2027-03-15T01:30:00Z'), '2027-03-15T06:00:00Z', '2027-03-15T06:30:00Z', 'normal', 2),
      meeting(id(SYNC, '2027-03-17T01:30:00Z'), '2027-03-17T01:30:00Z', '2027-03-17T02:00:00Z', 'normal', 2),
      meeting(id(NYCALL, '2027-03-19T00:00:00Z'), '2027-03-19T00:00:00Z', '2027-03-19T01:00:00Z'),
    ]);
    // The schedule may keep the confidential fields (P15); the logs never show them.
    expect(h.schedule.get(id(VIP))).toMatchObject({ title: 'Reception of the provincial delegation', organizer: 'Office of the Director' });
    for (const secret of TITLES) expect(h.logs()).not.toContain(secret);
    expect(h.feeds.status('3F-301')[0]).toMatchObject({ failures: 0, meetings: 6, problems: [] });
    expect(h.alerts).toEqual([]);
  });

  it('applies a changed export on the next poll: instances and events gone from the feed are cancelled, a moved instance moves again, and a meeting booked through the API in the same room stays', async () => {
    const url = await radicale.putCalendar('exchange-3f301-b', fixture('exchange-3F-301.ics'));
    const h = await started(harness(siteYaml([{ id: '3F-301', calendar: `{ url: "${url}" }` }])));
    expect(h.booked('3F-301')).toHaveLength(6);
    h.schedule.upsert({ id: 'oa-5521', room: '3F-301', start: z('2027-03-10T06:00:00Z'), end: z('2027-03-10T07:00:00Z'), level: 'vip2' });

    // Radicale answers every GET with 200 and the same ETag: an unchanged body changes nothing.
    await h.tick(60_000);
    expect(h.feeds.status('3F-301')[0]!.unchanged).toBe(1);
    expect(h.feeds.status('3F-301')[0]!.last).toMatchObject({ added: 0, moved: 0, cancelled: 0, unchanged: 6 });

    await radicale.putCalendar('exchange-3f301-b', fixture('exchange-3F-301-changed.ics'));
    await h.tick(60_000);
    const id = (uid: string, rid?: string) => feedMeetingId('3F-301', uid, rid === undefined ? undefined : z(rid));
    expect(h.booked('3F-301')).toEqual([
      meeting(id(SYNC, '2027-03-08T01:30:00Z'), '2027-03-08T01:30:00Z', '2027-03-08T02:00:00Z', 'normal', 2),
      meeting('oa-5521', '2027-03-10T06:00:00Z', '2027-03-10T07:00:00Z', 'vip2'),
      meeting(id(NYCALL, '2027-03-12T01:00:00Z'), '2027-03-12T01:00:00Z', '2027-03-12T02:00:00Z'),
      meeting(id(SYNC, '2027-03-15T01:30:00Z'), '2027-03-15T08:00:00Z', '2027-03-15T08:30:00Z', 'normal', 2),
    ]);
    expect(h.schedule.get(id(VIP))?.status).toBe('cancelled');
    expect(h.schedule.get(id(SYNC, '2027-03-17T01:30:00Z'))?.status).toBe('cancelled');
    expect(h.schedule.get(id(NYCALL, '2027-03-19T00:00:00Z'))?.status).toBe('cancelled');
    expect(h.feeds.status('3F-301')[0]!.last).toMatchObject({ moved: 1, cancelled: 3, unchanged: 2, skipped: [] });
  });

  it('reads level hints from a CalDAV calendar: the configured X- property wins, else the highest mapped category, and DURATION stands in for DTEND', async () => {
    const url = await radicale.putCalendar('caldav-5f501', fixture('caldav-5F-501.ics'));
    const h = await started(harness(siteYaml([{ id: '5F-501', calendar: `{ url: "${url}", level_from: { categories: { Board: vip2 }, property: X-MEETING-LEVEL } }` }])));
    const id = (uid: string, rid?: string) => feedMeetingId('5F-501', uid, rid === undefined ? undefined : z(rid));
    expect(h.booked('5F-501')).toEqual([
      meeting(id('2d4a0c8e-6a1f-4f59-9a3e-6b1f0f0b6a11'), '2027-03-09T06:00:00Z', '2027-03-09T07:00:00Z', 'vip3'),
      meeting(id('7b1e5c2a-0d9f-4c3b-8e2a-1f6d4c9b0a22'), '2027-03-10T01:00:00Z', '2027-03-10T03:30:00Z', 'vip2'),
      meeting(id('c3f0a9d8-2b7e-4a61-9c5d-3e8f7a6b5c33'), '2027-03-11T01:00:00Z', '2027-03-11T02:00:00Z', 'vip2'),
      meeting(id('e5d4c3b2-a190-4f8e-8d7c-6b5a49382744', '2027-03-12T08:00:00Z'), '2027-03-12T08:00:00Z', '2027-03-12T08:45:00Z'),
      meeting(id('e5d4c3b2-a190-4f8e-8d7c-6b5a49382744', '2027-03-13T08:00:00Z'), '2027-03-13T08:00:00Z', '2027-03-13T08:45:00Z'),
    ]);
  });

  it('polls a Google Calendar export over HTTP with If-None-Match: the weekday stand-up across the DST switch with an EXDATE, a moved and a cancelled instance; a 304 keeps the schedule while the horizon moves on', async () => {
    http.set('/google/nyc-12.ics', { body: fixture('google-NY-12.ics') });
    const h = await started(harness(siteYaml([{ id: 'NY-12', calendar: `{ url: "${http.url}/google/nyc-12.ics", poll_s: 3600 }` }])));
    const id = (rid?: string) => feedMeetingId('NY-12', '7kukuqrfedlm2f9t0vq2ke1v4b@google.com', rid === undefined ? undefined : z(rid));
    const standup = (day: string, utcHour: string) => meeting(id(`2027-03-${day}T${utcHour}:00:00Z`), `2027-03-${day}T${utcHour}:00:00Z`, `2027-03-${day}T${utcHour}:30:00Z`, 'normal', 3);
    expect(h.booked('NY-12')).toEqual([
      standup('08', '14'),
      standup('09', '14'),
      standup('10', '14'),
      meeting(feedMeetingId('NY-12', '3q9v1o2l5n8c0m6k4j7h2g1f0e@google.com'), '2027-03-10T19:00:00Z', '2027-03-10T20:00:00Z', 'normal', 2),
      standup('11', '14'),
      // 12 March: EXDATE. From 15 March New York is on daylight time: 09:00 is 13:00 UTC.
      standup('15', '13'),
      meeting(id('2027-03-16T13:00:00Z'), '2027-03-16T15:30:00Z', '2027-03-16T16:00:00Z', 'normal', 2),
      // 17 March: cancelled instance.
      standup('18', '13'),
      standup('19', '13'),
    ]);

    await h.tick(3600_000);
    const feedRequests = () => http.requests.filter((r) => r.path === '/google/nyc-12.ics');
    expect(feedRequests().at(-1)).toMatchObject({ status: 304 });
    expect(feedRequests().at(-1)!.headers['if-none-match']).toMatch(/^"[0-9a-f]{40}"$/);
    expect(h.booked('NY-12')).toHaveLength(9);

    // A day later every poll was a 304, yet Monday 22 March came into the 14-day horizon.
    await h.tick(23 * 3600_000);
    expect(feedRequests().slice(1).every((r) => r.status === 304)).toBe(true);
    expect(h.schedule.get(id('2027-03-22T13:00:00Z'))).toMatchObject({ status: 'scheduled', start: z('2027-03-22T13:00:00Z') });
    expect(h.feeds.status('NY-12')[0]).toMatchObject({ polls: 25, unchanged: 24, failures: 0 });
  });

  it('reads times in zones the feed does not define by their Windows, IANA, legacy Mozilla or Outlook display names, and reports a zone nobody knows', async () => {
    http.set('/oa/2f-201.ics', { body: fixture('windows-zones-2F-201.ics') });
    const h = await started(harness(siteYaml([{ id: '2F-201', calendar: `{ url: "${http.url}/oa/2f-201.ics" }` }])));
    const id = (uid: string, rid?: string) => feedMeetingId('2F-201', uid, rid === undefined ? undefined : z(rid));
    expect(h.booked('2F-201')).toEqual([
      meeting(id('oa-20270309-0001'), '2027-03-09T02:00:00Z', '2027-03-09T03:30:00Z'),
      meeting(id('oa-20270310-0002', '2027-03-11T01:00:00Z'), '2027-03-11T01:00:00Z', '2027-03-11T01:30:00Z'),
      meeting(id('oa-20270311-0003'), '2027-03-11T06:30:00Z', '2027-03-11T07:30:00Z'),
      // Unknown zone and floating time: read in the site's zone (Asia/Shanghai).
      meeting(id('oa-20270312-0004'), '2027-03-12T01:00:00Z', '2027-03-12T02:00:00Z'),
      meeting(id('oa-20270313-0005'), '2027-03-13T01:00:00Z', '2027-03-13T01:30:00Z'),
      meeting(id('oa-20270315-0006'), '2027-03-15T14:00:00Z', '2027-03-15T15:00:00Z'),
      // "Eastern Standard Time" with no VTIMEZONE still follows the US daylight-saving switch.
      meeting(id('oa-20270310-0002', '2027-03-18T00:00:00Z'), '2027-03-18T00:00:00Z', '2027-03-18T00:30:00Z'),
    ]);
    expect(h.feeds.status('2F-201')[0]!.problems).toEqual([expect.stringMatching(/time zone "Mars Standard Time" is neither defined in the feed nor known; its times were read in Asia\/Shanghai/)]);
  });

  it('keeps the last good schedule through a 500, a login page and a refused connection, raising exactly one alert and clearing it when the feed is back; secrets from the environment reach the server but never a log or an alert', async () => {
    const secret = 'a8f3c0d2e9b14f7aa6c5d4e3f2a1b0c9';
    const token = 'tok-5b2e9c1d7f3a';
    const path = `/private-${secret}/basic.ics`;
    http.set(path, { body: fixture('exchange-3F-301.ics') });
    const yaml = siteYaml([{ id: '1F-101', calendar: `{ url: "${http.url}/private-\${FEED_SECRET}/basic.ics", headers: { Authorization: "Bearer \${FEED_TOKEN}" } }` }]);
    const h = await started(harness(yaml, { FEED_SECRET: secret, FEED_TOKEN: token }));
    const good = h.booked('1F-101');
    expect(good).toHaveLength(6);
    expect(http.requests.filter((r) => r.path === path).every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);

    http.set(path, { status: 500 });
    await h.tick(60_000);
    expect(h.feeds.status('1F-101')[0]).toMatchObject({ failures: 1, lastError: expect.stringMatching(/HTTP 500/) });
    expect(h.alerts).toEqual([]); // one failed poll is not yet an outage (alert_after_failures: 2)

    http.set(path, { body: '<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head><body><form>…</form></body></html>', contentType: 'text/html' });
    await h.tick(60_000);
    expect(h.feeds.status('1F-101')[0]).toMatchObject({ failures: 2, lastError: expect.stringMatching(/not an iCalendar feed/) });

    await http.close();
    await h.tick(60_000);
    await h.tick(60_000);
    expect(h.feeds.status('1F-101')[0]).toMatchObject({ failures: 4, lastError: expect.stringMatching(/unreachable \(ECONNREFUSED\)/) });
    expect(h.booked('1F-101')).toEqual(good);
    expect(h.alerts.map((a) => [a.id, a.state])).toEqual([['1F-101/calendar_feed', 'raised']]);
    expect(h.alerts[0]!.message).toContain(`127.0.0.1:${http.port}`);

    await http.reopen();
    http.set(path, { body: fixture('exchange-3F-301.ics') });
    await h.tick(60_000);
    expect(h.feeds.status('1F-101')[0]).toMatchObject({ failures: 0 });
    expect(h.booked('1F-101')).toEqual(good);
    expect(h.alerts.map((a) => [a.id, a.state])).toEqual([
      ['1F-101/calendar_feed', 'raised'],
      ['1F-101/calendar_feed', 'cleared'],
    ]);

    const everything = `${h.logs()}\n${JSON.stringify(h.alerts)}\n${JSON.stringify(h.feeds.status())}`;
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(token);
    for (const t of TITLES) expect(everything).not.toContain(t);
    expect(h.listenerErrors).toEqual([]);
  });
  it('runs inside the service: the feed fills the schedule the engine plans from, and a broken feed\'s alert goes out on the alerts topic and is cleared', async () => {
    http.set('/service/3f-301.ics', { body: fixture('exchange-3F-301.ics') });
    const yaml = `${siteYaml([{ id: '3F-301', calendar: `{ url: "${http.url}/service/3f-301.ics" }` }])}\nsimulation: { seed: 1, day: "2027-03-08", start: "07:00" }\n`;
    const day = await SimDay.open({ site: siteFromYaml(yaml), noMeetings: true });
    const watcher = mqtt.connect(day.service.mqttUrl, { clientId: 'calendar-alert-watcher', reconnectPeriod: 0, ...day.service.logins!.integrations });
    try {
      const published: AlertEvent[] = [];
      watcher.on('message', (_topic, payload) => published.push(JSON.parse(payload.toString()) as AlertEvent));
      await watcher.subscribeAsync('roomctl/cal/alerts', { qos: 1 });
      await waitFor(async () => (await day.service.calendar.whenIdle(), day.service.schedule.inRoom('3F-301').length === 6), 15_000, 'the feed meetings in the service schedule');
      expect(day.service.engine.focusMeeting('3F-301')?.id).toBe(feedMeetingId('3F-301', SYNC, z('2027-03-08T01:30:00Z')));

      http.set('/service/3f-301.ics', { status: 503 });
      for (let i = 0; i < 2; i++) {
        await day.advance(60_000);
        await day.service.calendar.whenIdle();
      }
      await waitFor(() => published.some((a) => a.state === 'raised'), 15_000, 'the feed alert on MQTT');
      expect(day.service.engine.activeAlerts('3F-301').map((a) => a.check)).toEqual(['calendar_feed']);
      expect(day.service.schedule.inRoom('3F-301')).toHaveLength(6);

      http.set('/service/3f-301.ics', { body: fixture('exchange-3F-301.ics') });
      await day.advance(60_000);
      await day.service.calendar.whenIdle();
      await waitFor(() => published.some((a) => a.state === 'cleared'), 15_000, 'the cleared alert on MQTT');
      expect(published.map((a) => [a.id, a.state])).toEqual([
        ['3F-301/calendar_feed', 'raised'],
        ['3F-301/calendar_feed', 'cleared'],
      ]);
    } finally {
      await watcher.endAsync();
      await day.close();
    }
  });
});
