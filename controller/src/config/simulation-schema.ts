import { z } from 'zod';

/**
 * The optional `simulation:` section of a site config: how the simulated building
 * (devices/sim) plays its day. The controller ignores it; `roomctl start
 * --simulate` and `npm start` read it. Strict like the rest of the config.
 */
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time as HH:MM').meta({ type: 'time HH:MM' });
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "-" and "_" only');

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  .refine((d) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    const t = new Date(Date.UTC(y, m - 1, day));
    return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
  }, 'not a calendar date')
  .meta({ type: 'date YYYY-MM-DD' });

/** Minutes since midnight of an HH:MM time. */
export const minutesOfDay = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));

const dayRange = z
  .strictObject({
    low_c: z.number().min(-50).max(50).meta({ description: 'The night’s low (°C).' }),
    high_c: z.number().min(-50).max(60).meta({ description: 'The afternoon’s high (°C).' }),
  })
  .refine((r) => r.low_c <= r.high_c, { message: 'low_c must not be above high_c', path: ['low_c'] })
  .meta({ description: 'Outdoor temperature range of a typical day (°C).' });

export const climateSchema = z
  .strictObject({
    summer: dayRange.default({ low_c: 25, high_c: 33 }).meta({ description: 'Typical day in the warmest weeks (late July) …' }),
    winter: dayRange.default({ low_c: -5, high_c: 4 }).meta({ description: '… and in the coldest (late January); days between are interpolated.' }),
    noise_c: z.number().min(0).max(5).default(0.4).meta({ description: 'Day-to-day weather noise (°C, standard deviation of a slow random walk).' }),
  })
  .meta({ description: 'The outdoor weather the simulated building sees.' });

export const simRoomSchema = z
  .strictObject({
    area_m2: z.number().positive().optional().meta({ description: 'Floor area (m²).', defaultText: 'from the capacity' }),
    height_m: z.number().positive().optional().meta({ description: 'Ceiling height (m).', defaultText: 'from the capacity' }),
    cooling_kw: z
      .number()
      .positive()
      .optional()
      .meta({ description: 'Total cooling capacity of the room’s fan-coil units (kW), shared equally between them.', defaultText: 'from the capacity' }),
    fresh_air_m3h: z.number().positive().optional().meta({ description: 'Fresh-air unit airflow at high speed (m³/h).', defaultText: 'from the capacity' }),
    wireless_mics: z
      .array(z.union([z.number().int().min(1), z.string().regex(/^[a-z0-9_]+$/)]))
      .optional()
      .meta({ description: 'DSP microphone channels that are wireless (have a battery), e.g. [5, 6].', defaultText: 'none' }),
    solar_factor: z.number().min(0).max(3).optional().meta({ description: 'Sun on the façade: 0 = none (inner room), 1 = typical, 2 = glass wall facing west.', defaultText: 'seeded, between 0.5 and 1.3' }),
    initial_temperature_c: z
      .number()
      .min(-10)
      .max(45)
      .optional()
      .meta({ description: 'Room temperature when the simulation starts.', defaultText: 'the night’s free-floating temperature' }),
  })
  .meta({ description: 'Per-room overrides of what the simulator would derive from the room’s capacity.' });

export const meetingLevels = ['normal', 'vip3', 'vip2', 'vip1'] as const;

export const simMeetingSchema = z
  .strictObject({
    id: id.meta({ description: 'The meeting’s id (unique in the day); the only name it has in output.' }),
    room: id.meta({ description: 'The room it is booked in (`rooms[].id`).' }),
    start: hhmm.meta({ description: 'Start time.' }),
    end: hhmm.meta({ description: 'End time, after the start.' }),
    level: z.enum(meetingLevels).default('normal').meta({ description: 'Meeting level: vip1/vip2/vip3 add checks ahead (P10–P12), never replace the P2/P3 ones.' }),
    attendees: z.number().int().min(0).max(2000).meta({ description: 'Expected attendees; the occupancy sensor sees them arrive and leave.' }),
    no_show: z.boolean().default(false).meta({ description: 'Nobody turns up.' }),
    booked_at: hhmm.optional().meta({ description: 'Ad-hoc meeting: when the booking reaches roomctl, not after the start; absent = known the day before.', procedure: 'P13' }),
    title: z.string().optional().meta({ description: 'Confidential: never published, logged or recorded.', procedure: 'P15' }),
    organizer: z.string().optional().meta({ description: 'Confidential, like the title.', procedure: 'P15' }),
  })
  .superRefine((m, ctx) => {
    if (minutesOfDay(m.end) <= minutesOfDay(m.start)) ctx.addIssue({ code: 'custom', path: ['end'], message: `end ${m.end} must be after start ${m.start}` });
    if (m.booked_at !== undefined && minutesOfDay(m.booked_at) > minutesOfDay(m.start))
      ctx.addIssue({ code: 'custom', path: ['booked_at'], message: `booked_at ${m.booked_at} must not be after start ${m.start}` });
  })
  .meta({ description: 'A booking of the simulated day, in site time.' });

export const simulationSchema = z
  .strictObject({
    seed: z.number().int().min(0).max(4294967295).default(1).meta({ description: 'Same seed, same day → same histories.' }),
    day: isoDay.optional().meta({ description: 'The simulated day (site time zone).', defaultText: 'today' }),
    start: hhmm.default('07:30').meta({ description: 'Time of day at which the simulation starts.' }),
    speed: z.number().positive().max(100000).default(48).meta({ description: 'Virtual time runs this many times real time (48 = a working day in ~10 minutes).' }),
    tick_s: z.number().min(1).max(300).default(10).meta({ description: 'Physics step of the simulated building (virtual seconds).' }),
    control_port: z.number().int().min(0).max(65535).default(8091).meta({ description: 'Loopback HTTP port of the simulator’s fault API (`roomctl sim fault`); 0 = any free port.' }),
    climate: climateSchema.prefault({}),
    rooms: z.record(id, simRoomSchema).default({}).meta({ key: 'room' }),
    meetings: z.array(simMeetingSchema).default([]).meta({ description: 'The day’s bookings, as the simulated meeting system makes them.' }),
  })
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>();
    s.meetings.forEach((m, i) => {
      const before = seen.get(m.id);
      if (before !== undefined) ctx.addIssue({ code: 'custom', path: ['meetings', i, 'id'], message: `duplicate meeting id "${m.id}" (also meetings[${before}])` });
      else seen.set(m.id, i);
    });
  })
  .meta({
    description:
      'How the simulated building (devices/sim) plays its day: `roomctl start --simulate`, `npm start` and `roomctl sim run` read it; the controller ignores it. Meetings here are named by id only in every output (P15).',
  });

export type SimulationConfig = z.infer<typeof simulationSchema>;
export type SimMeetingConfig = z.infer<typeof simMeetingSchema>;
export type SimRoomConfig = z.infer<typeof simRoomSchema>;
export type ClimateConfig = z.infer<typeof climateSchema>;

/** A simulated meeting may bring up to half again the room's capacity (standing room); more is a mistake. */
export function overCapacity(attendees: number, capacity: number): boolean {
  return attendees > capacity * 1.5;
}

/** Two meetings of one room whose HH:MM spans overlap (touching ends do not). */
export function meetingsOverlap(a: { start: string; end: string }, b: { start: string; end: string }): boolean {
  return minutesOfDay(a.start) < minutesOfDay(b.end) && minutesOfDay(b.start) < minutesOfDay(a.end);
}

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
    else if (overCapacity(m.attendees, room.capacity)) errors.push(`simulation.meetings[${i}].attendees: ${m.attendees} people in room ${m.room} of capacity ${room.capacity}`);
    sim.meetings.forEach((other, j) => {
      if (j <= i || other.room !== m.room) return;
      if (meetingsOverlap(m, other))
        errors.push(`simulation.meetings[${j}]: ${other.id} ${other.start}–${other.end} overlaps ${m.id} ${m.start}–${m.end} in room ${m.room}`);
    });
  });
  return errors;
}
