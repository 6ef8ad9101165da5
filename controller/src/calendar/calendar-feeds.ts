import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { Site } from '../config/load.ts';
import type { calendarDefaultsSchema, calendarLevelSchema, roomCalendarSchema } from '../config/schema.ts';
import type { AlertInput } from '../engine/alerts/alert-book.ts';
import { silentLogger, type Logger } from '../log.ts';
import { every, type Clock } from '../model/clock.ts';
import type { AlertEvent } from '../model/events.ts';
import { feedHost, fetchFeed, FeedFetchError } from './feed-http.ts';
import { DEFAULT_LEVEL_RULE, feedPrefix, syncRoom, type FeedSchedule, type LevelRule, type SyncSummary } from './feed-meetings.ts';
import { expandFeed, IcsError, parseFeed, type ParsedFeed } from './ics.ts';

/**
 * Calendar feeds (issue 7, P13): each room that names an iCalendar URL has its feed
 * polled on the injected clock (default every minute, where P13's office system was
 * polled every 20), its recurring meetings expanded over a horizon (default 14 days)
 * and the room's feed-owned bookings made to match (feed-meetings.ts).
 *
 * A feed that cannot be fetched or read keeps the room's last good schedule and,
 * after `alert_after_failures` failed polls in a row, raises one alert
 * `<room>/calendar_feed/-` (AlertBook: raised once, cleared once), cleared by the
 * next good poll. A 304, or a 200 with the body already seen, re-expands the cached
 * feed: nothing changes but the horizon moves on, so a weekly series that has not
 * been edited for months still gets its next instances.
 * P15: logs and alerts name the room, the feed's host and UIDs — never a URL (it may
 * hold a secret), a title or an organizer.
 */
export type CalendarDefaults = z.infer<typeof calendarDefaultsSchema>;
export type RoomCalendar = z.infer<typeof roomCalendarSchema>;
type LevelConfig = z.infer<typeof calendarLevelSchema>;

/** The part of the alert book a feed needs (engine/alerts.ts AlertBook). */
export interface FeedAlerts {
  raise(input: AlertInput): AlertEvent | undefined;
  clear(room: string, check: string, meetingId?: string, why?: string): AlertEvent | undefined;
}

export interface CalendarFeedsOptions {
  site: Site;
  schedule: FeedSchedule;
  alerts: FeedAlerts;
  clock: Clock;
  logger?: Logger;
  /** Largest feed body read (default 10 MB). */
  maxBytes?: number;
}

export interface FeedStatus {
  room: string;
  host: string;
  pollMs: number;
  polls: number;
  /** Polls answered 304 or with the body already seen. */
  unchanged: number;
  failures: number;
  lastPollAt?: number;
  lastGoodAt?: number;
  lastError?: string;
  /** Bookings of the last good poll (within the horizon). */
  meetings: number;
  /** Problems of the last good poll: events skipped or read with a guess. */
  problems: string[];
  last?: SyncSummary;
}

export const FEED_ALERT_CHECK = 'calendar_feed';
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

interface Feed {
  room: string;
  config: RoomCalendar;
  pollMs: number;
  rule: LevelRule;
  status: FeedStatus;
  etag?: string;
  lastModified?: string;
  bodyHash?: string;
  parsed?: ParsedFeed;
  running?: Promise<void>;
  stopTimer?: () => void;
  lastProblems: string;
}

export class CalendarFeeds {
  readonly name = 'calendar feeds';
  private feeds: Feed[] = [];
  private log: Logger;
  private abort = new AbortController();
  private stopped = true;
  private defaults: CalendarDefaults;

  constructor(private options: CalendarFeedsOptions) {
    this.log = (options.logger ?? silentLogger).child({ part: 'calendar' });
    const { site } = options;
    this.defaults = site.config.calendar;
    const loaded = new Set(site.rooms.map((r) => r.id));
    for (const room of site.config.rooms) {
      if (!room.calendar || !loaded.has(room.id)) continue;
      const pollMs = (room.calendar.poll_s ?? this.defaults.poll_s) * 1000;
      const rule = levelRule(this.defaults.level_from, room.calendar.level_from);
      this.feeds.push({
        room: room.id,
        config: room.calendar,
        pollMs,
        rule,
        lastProblems: '',
        status: { room: room.id, host: feedHost(room.calendar.url), pollMs, polls: 0, unchanged: 0, failures: 0, meetings: 0, problems: [] },
      });
    }
  }

  /** Rooms with a feed. */
  get rooms(): string[] {
    return this.feeds.map((f) => f.room);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    for (const feed of this.feeds) {
      feed.stopTimer = every(this.options.clock, feed.pollMs, () => void this.poll(feed));
      void this.poll(feed);
    }
    if (this.feeds.length > 0) this.log.info({ feeds: this.feeds.map((f) => ({ room: f.room, host: f.status.host, pollS: f.pollMs / 1000 })) }, 'calendar feeds started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const f of this.feeds) f.stopTimer?.();
    this.abort.abort();
    await Promise.allSettled(this.feeds.map((f) => f.running));
  }

  /** Polls one room's feed (or every feed) now; resolves when done. A poll already running is awaited, not doubled. */
  async pollNow(room?: string): Promise<void> {
    await Promise.all(this.feeds.filter((f) => room === undefined || f.room === room).map((f) => this.poll(f)));
  }

  /** Resolves once no poll is running (a virtual-time test's settle step). */
  async whenIdle(): Promise<void> {
    while (this.feeds.some((f) => f.running)) await Promise.allSettled(this.feeds.map((f) => f.running));
  }

  status(room?: string): FeedStatus[] {
    return this.feeds.filter((f) => room === undefined || f.room === room).map((f) => structuredClone(f.status));
  }

  private poll(feed: Feed): Promise<void> {
    if (feed.running) return feed.running;
    if (this.stopped) return Promise.resolve();
    const run = this.pollOnce(feed).finally(() => {
      feed.running = undefined;
    });
    feed.running = run;
    return run;
  }

  private async pollOnce(feed: Feed): Promise<void> {
    const { clock } = this.options;
    feed.status.polls++;
    feed.status.lastPollAt = clock.now();
    try {
      const res = await fetchFeed({
        url: feed.config.url,
        headers: feed.config.headers,
        etag: feed.etag,
        lastModified: feed.lastModified,
        timeoutMs: this.defaults.timeout_s * 1000,
        maxBytes: this.options.maxBytes ?? DEFAULT_MAX_BYTES,
        signal: this.abort.signal,
      });
      if (this.stopped) return;
      if (res.status === 'ok') {
        const hash = createHash('sha256').update(res.body).digest('hex');
        if (hash !== feed.bodyHash || !feed.parsed) {
          feed.parsed = parseFeed(res.body);
          feed.bodyHash = hash;
        } else feed.status.unchanged++;
        // Validators only of a body that parsed: a 304 must never vouch for a broken one.
        feed.etag = res.etag;
        feed.lastModified = res.lastModified;
      } else {
        feed.status.unchanged++;
        if (!feed.parsed) throw new FeedFetchError('http', `${feed.status.host} answered 304 to a request without validators`);
      }
      this.apply(feed, feed.parsed);
    } catch (err) {
      if (this.stopped) return;
      this.failed(feed, err);
    }
  }

  private apply(feed: Feed, parsed: ParsedFeed): void {
    const now = this.options.clock.now();
    const to = now + this.defaults.horizon_days * 86_400_000;
    const expansion = expandFeed(parsed, { from: now, to, fallbackZone: this.options.site.config.site.timezone, levelProperty: feed.rule.property });
    let summary: SyncSummary;
    try {
      summary = syncRoom(this.options.schedule, feed.room, expansion.instances, feed.rule, now, to);
    } catch (err) {
      // The schedule could not be saved (it undid the poll's changes): not the feed's fault, no feed alert.
      this.log.error({ room: feed.room, err: (err as Error).message }, 'calendar: the schedule refused this poll; retrying on the next');
      return;
    }
    const s = feed.status;
    const recovered = s.failures > 0;
    s.failures = 0;
    s.lastGoodAt = now;
    delete s.lastError;
    s.problems = [...expansion.problems, ...summary.skipped];
    s.meetings = this.options.schedule.inRoom(feed.room, now, to).filter((m) => m.id.startsWith(feedPrefix(feed.room))).length;
    s.last = summary;
    const cleared = this.options.alerts.clear(feed.room, FEED_ALERT_CHECK, undefined, 'recovered: the feed is readable again');
    if (recovered || cleared) this.log.info({ room: feed.room, host: s.host }, 'calendar feed recovered');
    const changed = summary.added + summary.updated + summary.moved + summary.cancelled;
    if (changed > 0)
      this.log.info({ room: feed.room, host: s.host, added: summary.added, updated: summary.updated, moved: summary.moved, cancelled: summary.cancelled, meetings: s.meetings }, 'calendar feed applied');
    const problems = s.problems.join('\n');
    if (problems !== feed.lastProblems && s.problems.length > 0)
      this.log.warn({ room: feed.room, host: s.host, problems: s.problems.slice(0, 20), count: s.problems.length }, 'calendar feed: some events were skipped or guessed');
    feed.lastProblems = problems;
  }

  private failed(feed: Feed, err: unknown): void {
    const s = feed.status;
    s.failures++;
    const reason = err instanceof FeedFetchError || err instanceof IcsError ? err.message : `unexpected error: ${(err as Error).message}`;
    s.lastError = reason;
    const level = s.failures === 1 ? 'warn' : 'debug';
    this.log[level]({ room: feed.room, host: s.host, failures: s.failures, err: reason }, 'calendar feed poll failed; keeping the last good schedule');
    if (s.failures < this.defaults.alert_after_failures) return;
    this.options.alerts.raise({
      room: feed.room,
      check: FEED_ALERT_CHECK,
      severity: 'warning',
      observed: reason,
      expected: 'a readable iCalendar feed',
      message: `${feed.room}: calendar feed from ${s.host} failed ${s.failures} polls in a row (${reason}); keeping the last good schedule`,
    });
  }
}

/** The site's rule overridden by the room's: categories merged, property replaced. */
function levelRule(site: LevelConfig | undefined, room: LevelConfig | undefined): LevelRule {
  const categories = { ...DEFAULT_LEVEL_RULE.categories, ...(site?.categories ?? {}), ...(room?.categories ?? {}) };
  const property = room?.property ?? site?.property ?? DEFAULT_LEVEL_RULE.property;
  return { categories, ...(property ? { property } : {}) };
}
