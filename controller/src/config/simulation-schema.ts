import { z } from 'zod';

/**
 * The optional `simulation:` section of a site config: how the simulated building
 * (devices/sim) plays its day. The controller ignores it; `roomctl start
 * --simulate` and `npm start` read it. Strict like the rest of the config.
 */
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM');
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "-" and "_" only');

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  .refine((d) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    const t = new Date(Date.UTC(y, m - 1, day));
    return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
  }, 'not a calendar date');

/** Minutes since midnight of an HH:MM time. */
export const minutesOfDay = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));

/** Outdoor temperature range of a typical day (°C). */
const dayRange = z
  .strictObject({ low_c: z.number().min(-50).max(50), high_c: z.number().min(-50).max(60) })
  .refine((r) => r.low_c <= r.high_c, { message: 'low_c must not be above high_c', path: ['low_c'] });

export const climateSchema = z.strictObject({
  /** Typical day in the warmest weeks (late July) … */
  summer: dayRange.default({ low_c: 25, high_c: 33 }),
  /** … and in the coldest (late January); days between are interpolated. */
  winter: dayRange.default({ low_c: -5, high_c: 4 }),
  /** Day-to-day weather noise (°C, standard deviation of a slow random walk). */
  noise_c: z.number().min(0).max(5).default(0.4),
});

/** Per-room overrides of what the simulator would derive from the room's capacity. */
export const simRoomSchema = z.strictObject({
  area_m2: z.number().positive().optional(),
  height_m: z.number().positive().optional(),
  /** Total cooling capacity of the room's fan-coil units (kW), shared equally between them. */
  cooling_kw: z.number().positive().optional(),
  /** Fresh-air unit airflow at high speed (m³/h). */
  fresh_air_m3h: z.number().positive().optional(),
  /** DSP microphone channels that are wireless (have a battery), e.g. [5, 6]. */
  wireless_mics: z.array(z.union([z.number().int().min(1), z.string().regex(/^[a-z0-9_]+$/)])).optional(),
  /** Sun on the façade: 0 = none (inner room), 1 = typical, 2 = glass wall facing west. */
  solar_factor: z.number().min(0).max(3).optional(),
  /** Room temperature when the simulation starts (default: the night's free-floating temperature). */
  initial_temperature_c: z.number().min(-10).max(45).optional(),
});

export const meetingLevels = ['normal', 'vip3', 'vip2', 'vip1'] as const;

export const simMeetingSchema = z
  .strictObject({
    id,
    room: id,
    start: hhmm,
    end: hhmm,
    level: z.enum(meetingLevels).default('normal'),
    /** Expected attendees; the occupancy sensor sees them arrive and leave. */
    attendees: z.number().int().min(0).max(2000),
    /** Nobody turns up. */
    no_show: z.boolean().default(false),
    /** Ad-hoc meeting: when the booking reaches roomctl (P13); absent = known the day before. */
    booked_at: hhmm.optional(),
    /** Confidential (P15): never published, logged or recorded. */
    title: z.string().optional(),
    organizer: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    if (minutesOfDay(m.end) <= minutesOfDay(m.start)) ctx.addIssue({ code: 'custom', path: ['end'], message: `end ${m.end} must be after start ${m.start}` });
    if (m.booked_at !== undefined && minutesOfDay(m.booked_at) > minutesOfDay(m.start))
      ctx.addIssue({ code: 'custom', path: ['booked_at'], message: `booked_at ${m.booked_at} must not be after start ${m.start}` });
  });

export const simulationSchema = z
  .strictObject({
    /** Same seed, same day → same histories. */
    seed: z.number().int().min(0).max(4294967295).default(1),
    /** The simulated day (site time zone); absent = today. */
    day: isoDay.optional(),
    /** Time of day at which the simulation starts. */
    start: hhmm.default('07:30'),
    /** Virtual time runs this many times real time (48 = a working day in ~10 minutes). */
    speed: z.number().positive().max(100000).default(48),
    /** Physics step of the simulated building (virtual seconds). */
    tick_s: z.number().min(1).max(300).default(10),
    /** Loopback HTTP port of the simulator's fault API (`roomctl sim fault`); 0 = any free port. */
    control_port: z.number().int().min(0).max(65535).default(8091),
    climate: climateSchema.prefault({}),
    rooms: z.record(id, simRoomSchema).default({}),
    meetings: z.array(simMeetingSchema).default([]),
  })
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>();
    s.meetings.forEach((m, i) => {
      const before = seen.get(m.id);
      if (before !== undefined) ctx.addIssue({ code: 'custom', path: ['meetings', i, 'id'], message: `duplicate meeting id "${m.id}" (also meetings[${before}])` });
      else seen.set(m.id, i);
    });
  });

export type SimulationConfig = z.infer<typeof simulationSchema>;
export type SimMeetingConfig = z.infer<typeof simMeetingSchema>;
export type SimRoomConfig = z.infer<typeof simRoomSchema>;
export type ClimateConfig = z.infer<typeof climateSchema>;

/**
 * Checks that need the rooms: meetings and room settings name rooms that exist,
 * wireless mics are channels of the room's DSP, and one room's meetings do not
 * overlap. Returns `path: message` lines like the loader's errors.
 */
export function checkSimulationAgainstRooms(
  sim: SimulationConfig,
  rooms: { id: string; capacity: number; micChannels: string[] }[],
): string[] {
  const errors: string[] = [];
  const byId = new Map(rooms.map((r) => [r.id, r]));
  const known = rooms.map((r) => r.id).join(', ');
  for (const [roomId, settings] of Object.entries(sim.rooms)) {
    const room = byId.get(roomId);
    if (!room) {
      errors.push(`simulation.rooms.${roomId}: no room "${roomId}" in rooms (known: ${known})`);
      continue;
    }
    for (const mic of settings.wireless_mics ?? [])
      if (!room.micChannels.includes(String(mic)))
        errors.push(`simulation.rooms.${roomId}.wireless_mics: room ${roomId} has no microphone channel ${mic}${room.micChannels.length ? ` (channels: ${room.micChannels.join(', ')})` : ''}`);
  }
  sim.meetings.forEach((m, i) => {
    const room = byId.get(m.room);
    if (!room) errors.push(`simulation.meetings[${i}].room: no room "${m.room}" in rooms (known: ${known})`);
    else if (m.attendees > room.capacity * 1.5) errors.push(`simulation.meetings[${i}].attendees: ${m.attendees} people in room ${m.room} of capacity ${room.capacity}`);
    sim.meetings.forEach((other, j) => {
      if (j <= i || other.room !== m.room) return;
      if (minutesOfDay(other.start) < minutesOfDay(m.end) && minutesOfDay(m.start) < minutesOfDay(other.end))
        errors.push(`simulation.meetings[${j}]: ${other.id} ${other.start}–${other.end} overlaps ${m.id} ${m.start}–${m.end} in room ${m.room}`);
    });
  });
  return errors;
}
