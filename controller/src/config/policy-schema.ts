import { z } from 'zod';

/**
 * Policies: the conditions and lead times a room must meet. Every default is a number
 * from docs/procedures.md (DEFAULT_POLICY below, with the P-ids); a policy may override
 * any of them and may `extends` another policy. Fields are optional here and filled by
 * resolvePolicies(), so an override names only what differs. Each field's description
 * and procedure id are in its `.meta()`, for docs/configuration.md.
 */
const band = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo < hi, 'band must be [low, high] with low < high')
  .meta({ type: '[low, high] in °C' });

export const policyFields = z
  .strictObject({
    extends: z.string().optional().meta({ description: 'Another policy whose values this one starts from; without it, the procedures’ defaults.' }),
    description: z.string().optional().meta({ description: 'What the policy is for, for the people who read the config.' }),
    comfort_c: z
      .strictObject({
        summer: band.optional().meta({ description: 'Band in the summer months (`site.seasons.summer`).' }),
        winter: band.optional().meta({ description: 'Band in the winter months (`site.seasons.winter`).' }),
        transition: band.optional().meta({ description: 'Band in the other months.' }),
      })
      .optional()
      .meta({ description: 'Comfort bands in °C per season: the room is in band at T-15 and kept there in session.', procedure: 'P5, P6' }),
    lead_minutes: z
      .strictObject({
        av: z.number().min(0).optional().meta({ description: 'AV on, mic test, fresh air.', procedure: 'P2, P16' }),
        ready: z.number().min(0).optional().meta({ description: 'Lights to the meeting scene and the readiness check.', procedure: 'P4' }),
        final_sound: z.number().min(0).optional().meta({ description: 'Final sound check.', procedure: 'P3' }),
        vip3: z.number().min(0).optional().meta({ description: 'vip3: full check and AV on.', procedure: 'P12' }),
      })
      .optional()
      .meta({ description: 'Minutes before the start at which each step runs.' }),
    vip_check_days: z
      .strictObject({
        vip1: z.array(z.number().int().min(0)).optional().meta({ description: 'vip1: days before the meeting for the full equipment check.', procedure: 'P10' }),
        vip2: z.array(z.number().int().min(0)).optional().meta({ description: 'vip2: days before the meeting for the full equipment check.', procedure: 'P11' }),
      })
      .optional()
      .meta({ description: 'Days before the meeting for the full equipment check.', procedure: 'P10, P11' }),
    vacancy_minutes: z.number().min(0).optional().meta({ description: 'Nobody present for this long after the end → close.', procedure: 'P7' }),
    no_show_minutes: z.number().min(0).optional().meta({ description: 'Nobody present this long after start → no-show, room released.' }),
    setback_c: z.number().min(0).max(10).optional().meta({ description: 'HVAC turned down by this much (°C) after a meeting …', procedure: 'P7' }),
    hvac_off_horizon_minutes: z.number().min(0).optional().meta({ description: '… or off when no meeting starts within this horizon.', procedure: 'P7' }),
    lights_grace_minutes: z.number().min(0).optional().meta({ description: 'Lights on in a closed room with no meeting are switched off after this grace.', procedure: 'P7' }),
    mic: z
      .strictObject({
        min_level_dbfs: z.number().optional().meta({ description: 'Lowest level (dBFS) of a microphone under test.' }),
        max_level_dbfs: z.number().optional().meta({ description: 'Highest level (dBFS).' }),
        min_battery_pct: z.number().min(0).max(100).optional().meta({ description: 'Lowest battery (%) of a wireless microphone.' }),
      })
      .optional()
      .meta({ description: 'A microphone passes its test when its level and battery are in range.', procedure: 'P2, P3' }),
    vip1_backup_mics: z.number().int().min(0).optional().meta({ description: 'Backup microphones required for vip1 (the room’s last channels).', procedure: 'P10' }),
    co2_max_ppm: z.number().positive().optional().meta({ description: 'CO2 upper limit where the room has a sensor.', procedure: 'P16' }),
    meeting_scene: z.string().optional().meta({ description: 'The scene applied at the readiness step.', procedure: 'P4' }),
  })
  .meta({
    description:
      'Policies: the conditions and lead times a room must meet (a room names one with `policy:`). Every default is a number from procedures.md; a policy names only what differs from the policy it `extends` (by default the procedures’ defaults), and `default` itself may be redefined.',
  });

export type PolicyInput = z.infer<typeof policyFields>;

export interface Policy {
  name: string;
  comfort_c: { summer: [number, number]; winter: [number, number]; transition: [number, number] };
  lead_minutes: { av: number; ready: number; final_sound: number; vip3: number };
  vip_check_days: { vip1: number[]; vip2: number[] };
  vacancy_minutes: number;
  no_show_minutes: number;
  setback_c: number;
  hvac_off_horizon_minutes: number;
  lights_grace_minutes: number;
  mic: { min_level_dbfs: number; max_level_dbfs: number; min_battery_pct: number };
  vip1_backup_mics: number;
  co2_max_ppm: number;
  meeting_scene: string;
}

/** The defaults, from docs/procedures.md. */
export const DEFAULT_POLICY: Policy = {
  name: 'default',
  comfort_c: { summer: [22, 24], winter: [18, 22], transition: [20, 24] }, // P5
  lead_minutes: { av: 30, ready: 15, final_sound: 5, vip3: 120 }, // P2, P4, P3, P12
  vip_check_days: { vip1: [7, 1], vip2: [2] }, // P10, P11
  vacancy_minutes: 10, // P7
  no_show_minutes: 15,
  setback_c: 2, // P7 "turned down slightly"
  hvac_off_horizon_minutes: 120,
  lights_grace_minutes: 10,
  mic: { min_level_dbfs: -50, max_level_dbfs: -3, min_battery_pct: 30 }, // P2/P3
  vip1_backup_mics: 2, // P10
  co2_max_ppm: 1000, // P16
  meeting_scene: 'meeting', // P4
};

export interface PolicyProblem {
  path: (string | number)[];
  message: string;
}

/** Resolve `extends` chains onto the defaults; reports unknown parents and cycles. */
export function resolvePolicies(inputs: Record<string, PolicyInput>, problems: PolicyProblem[]): Map<string, Policy> {
  const resolved = new Map<string, Policy>();
  const resolving = new Set<string>();
  const resolve = (name: string): Policy => {
    const done = resolved.get(name);
    if (done) return done;
    const input = inputs[name];
    if (!input) return { ...DEFAULT_POLICY, name };
    if (resolving.has(name)) {
      problems.push({ path: ['policies', name, 'extends'], message: `extends chain loops back to "${name}"` });
      return { ...DEFAULT_POLICY, name };
    }
    resolving.add(name);
    let base = DEFAULT_POLICY;
    if (input.extends !== undefined) {
      if (!inputs[input.extends] && input.extends !== 'default') {
        problems.push({ path: ['policies', name, 'extends'], message: `unknown policy "${input.extends}"` });
      } else base = resolve(input.extends);
    }
    resolving.delete(name);
    const policy = mergePolicy(base, input, name);
    resolved.set(name, policy);
    return policy;
  };
  for (const name of Object.keys(inputs)) resolve(name);
  if (!resolved.has('default')) resolved.set('default', DEFAULT_POLICY);
  return resolved;
}

function mergePolicy(base: Policy, o: PolicyInput, name: string): Policy {
  return {
    name,
    comfort_c: { ...base.comfort_c, ...stripUndefined(o.comfort_c) },
    lead_minutes: { ...base.lead_minutes, ...stripUndefined(o.lead_minutes) },
    vip_check_days: { ...base.vip_check_days, ...stripUndefined(o.vip_check_days) },
    vacancy_minutes: o.vacancy_minutes ?? base.vacancy_minutes,
    no_show_minutes: o.no_show_minutes ?? base.no_show_minutes,
    setback_c: o.setback_c ?? base.setback_c,
    hvac_off_horizon_minutes: o.hvac_off_horizon_minutes ?? base.hvac_off_horizon_minutes,
    lights_grace_minutes: o.lights_grace_minutes ?? base.lights_grace_minutes,
    mic: { ...base.mic, ...stripUndefined(o.mic) },
    vip1_backup_mics: o.vip1_backup_mics ?? base.vip1_backup_mics,
    co2_max_ppm: o.co2_max_ppm ?? base.co2_max_ppm,
    meeting_scene: o.meeting_scene ?? base.meeting_scene,
  } as Policy;
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
