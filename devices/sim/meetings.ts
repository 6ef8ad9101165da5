import type { Site } from '../../controller/src/config/load.ts';
import { checkSimulationAgainstRooms, type SimulationConfig } from '../../controller/src/config/simulation-schema.ts';
import { localToEpoch, localToday } from './local-time.ts';

/**
 * The demo day's meetings (the `simulation.meetings` list of the site config),
 * placed on the simulated day in the site's time zone. The simulator uses them
 * for occupancy; the controller can take the same list as its bookings, the
 * ad-hoc ones (`bookedAt`) only from that moment on (P13).
 */
export interface SimMeeting {
  id: string;
  room: string;
  /** Epoch ms. */
  start: number;
  end: number;
  level: 'normal' | 'vip3' | 'vip2' | 'vip1';
  attendees: number;
  noShow: boolean;
  /** Epoch ms when the booking reaches roomctl; undefined = known in advance. */
  bookedAt?: number;
  /** Confidential (P15): never publish, log or record. */
  title?: string;
  organizer?: string;
}

/** Defaults when a site config has no `simulation:` section. */
export const DEFAULT_SIMULATION: SimulationConfig = {
  seed: 1,
  start: '07:30',
  speed: 48,
  tick_s: 10,
  control_port: 8091,
  climate: { summer: { low_c: 25, high_c: 33 }, winter: { low_c: -5, high_c: 4 }, noise_c: 0.4 },
  rooms: {},
  meetings: [],
};

export function simulationOf(site: Site): SimulationConfig {
  return site.config.simulation ?? DEFAULT_SIMULATION;
}

/**
 * Problems of the `simulation:` section that need the rooms (a meeting in a room
 * that does not exist, a wireless mic the DSP does not have, overlapping
 * meetings), as `path: message` lines. The simulator skips what it cannot use.
 */
export function simulationProblems(site: Site): string[] {
  const sim = site.config.simulation;
  if (!sim) return [];
  const rooms = site.rooms.map((r) => ({
    id: r.id,
    capacity: r.capacity,
    micChannels: r.devices.filter((d) => d.profile.kind === 'audio').flatMap((d) => d.points.map((p) => /^mic\.([a-z0-9_]+)\.level$/.exec(p.id.slice(d.name.length + 1))?.[1]).filter((c): c is string => !!c)),
  }));
  return checkSimulationAgainstRooms(sim, rooms);
}

/** The simulated day: `simulation.day`, or today in the site's time zone. */
export function simulationDay(site: Site, now = Date.now()): string {
  return simulationOf(site).day ?? localToday(site.config.site.timezone, now);
}

/** Epoch ms at which the simulation starts (`simulation.start` on the simulated day). */
export function simulationStart(site: Site, now = Date.now()): number {
  return localToEpoch(simulationDay(site, now), simulationOf(site).start, site.config.site.timezone);
}

/** The day's meetings in start order, skipping those in rooms the site does not have. */
export function meetingsOfDay(site: Site, day = simulationDay(site)): SimMeeting[] {
  const tz = site.config.site.timezone;
  const rooms = new Set(site.rooms.map((r) => r.id));
  return simulationOf(site)
    .meetings.filter((m) => rooms.has(m.room))
    .map((m) => ({
      id: m.id,
      room: m.room,
      start: localToEpoch(day, m.start, tz),
      end: localToEpoch(day, m.end, tz),
      level: m.level,
      attendees: m.attendees,
      noShow: m.no_show,
      bookedAt: m.booked_at !== undefined ? localToEpoch(day, m.booked_at, tz) : undefined,
      title: m.title,
      organizer: m.organizer,
    }))
    .sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
}
