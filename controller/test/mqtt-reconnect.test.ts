import { afterAll, describe, expect, it } from 'vitest';
import { MqttAdapter, ReconnectSchedule } from '../src/adapters/mqtt.ts';
import { silentLogger } from '../src/log.ts';
import { EventBus } from '../src/model/bus.ts';
import { systemClock } from '../src/model/clock.ts';
import { RoomStateStore } from '../src/model/room-state.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { siteFromYaml, TWO_ROOMS_YAML } from './helpers/site.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Issue 11, item 5: reconnecting is capped exponential backoff with full jitter and a
 * 60 s ceiling — at most 15 attempts in a 5-minute outage whatever the draws — and
 * roomctl is back within seconds of the broker's return, not at the next scheduled
 * attempt up to a minute later (a TCP probe sees the port open again).
 */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Attempt instants (ms after the loss) that fall inside `spanMs`, each attempt taking `costMs`. */
function attemptsWithin(schedule: ReconnectSchedule, spanMs: number, costMs = 0): number[] {
  const at: number[] = [];
  schedule.reset(0);
  let now = 0;
  for (;;) {
    now += schedule.next(now);
    if (now >= spanMs) return at;
    at.push(now);
    now += costMs;
  }
}

describe('the reconnect schedule', () => {
  it('makes at most 10 attempts in a 5-minute outage with the defaults (1 s, 60 s ceiling), for the shortest and the longest draws', () => {
    expect(attemptsWithin(new ReconnectSchedule(1000, 60_000, () => 0), 300_000)).toEqual([0, 1000, 3000, 7000, 15_000, 31_000, 63_000, 123_000, 183_000, 243_000]);
    expect(attemptsWithin(new ReconnectSchedule(1000, 60_000, () => 1), 300_000)).toEqual([1000, 3000, 7000, 15_000, 31_000, 63_000, 123_000, 183_000, 243_000]);
    // Attempts that hang for a 10 s connect timeout each make no more of them: the slots stay where they were.
    expect(attemptsWithin(new ReconnectSchedule(1000, 60_000, () => 0), 300_000, 10_000)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000, 63_000, 123_000, 183_000, 243_000]);
  });

  it('stays within 15 attempts in 5 minutes for a thousand runs of random draws, and the waits never exceed twice the ceiling', () => {
    let most = 0;
    let longest = 0;
    for (let run = 0; run < 1000; run++) {
      const s = new ReconnectSchedule(1000, 60_000);
      s.reset(0);
      let now = 0;
      let n = 0;
      for (;;) {
        const wait = s.next(now);
        longest = Math.max(longest, wait);
        now += wait;
        if (now >= 300_000) break;
        n++;
      }
      most = Math.max(most, n);
    }
    expect(most).toBeLessThanOrEqual(10);
    expect(longest).toBeLessThanOrEqual(120_000);
  });

  it('starts over after a connection that was up: the first slot is the shortest again', () => {
    const s = new ReconnectSchedule(1000, 60_000, () => 1);
    s.reset(0);
    for (let i = 0; i < 8; i++) s.next(0);
    expect(s.lastSlotMs).toBe(60_000);
    s.reset(1_000_000);
    expect(s.next(1_000_000)).toBe(1000);
    expect(s.lastSlotMs).toBe(1000);
  });
});

describe('reconnecting to a broker that comes back', () => {
  it('reconnects to a SIGKILLed and restarted Mosquitto at once, although the schedule said a minute, with one attempt', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const site = siteFromYaml(TWO_ROOMS_YAML);
    const bus = new EventBus();
    // Every draw at the end of its slot: the first attempt after the loss is due 60 s later.
    const adapter = new MqttAdapter({ url: broker.url, clientId: 'roomctl-reconnect', sitePrefix: 'roomctl/test', reconnect: { minMs: 60_000, maxMs: 60_000, random: () => 1 } }, [], new RoomStateStore(site, bus, systemClock), bus, systemClock, silentLogger);
    cleanups.push(() => adapter.stop());
    await adapter.start();
    expect(adapter.connected).toBe(true);

    await broker.stop('SIGKILL');
    await waitFor(() => !adapter.connected, 15_000, 'the adapter to notice');
    expect(adapter.stats().reconnectDelayMs).toBe(60_000);
    // Down until a probe (one every 2 s) has found the port closed.
    await waitFor(() => adapter.stats().probesClosed >= 1, 15_000, 'a probe to find the port closed');
    expect(adapter.stats().reconnects).toBe(0);
    await broker.restart();
    await waitFor(() => adapter.connected, 20_000, 'the adapter back before its scheduled attempt');
    expect(adapter.stats()).toMatchObject({ reconnects: 1, probeReconnects: 1 });
  });
});
