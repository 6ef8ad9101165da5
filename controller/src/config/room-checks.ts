import type { RoomConfig, DeviceConfig, GatewayConfig } from './schema.ts';
import { formatPath, type ConfigProblem } from './issues.ts';
import type { DeviceProfile } from './profile-schema.ts';
import type { ResolvedDevice } from '../model/devices.ts';
import { hint, type SiteProfiles } from './site-profiles.ts';
import type { WrittenNames } from './written.ts';

type Path = (string | number)[];

/**
 * A name nobody wrote, referenced from several places (seven devices naming gateway
 * "gw-4f"), is one mistake: one problem at its first reference, naming the others.
 */
export class UnknownRefs {
  private refs = new Map<string, { path: Path; message: string; more: Path[] }>();

  add(kind: string, name: string, path: Path, message: string): void {
    const key = `${kind}\u0000${name}`;
    const seen = this.refs.get(key);
    if (seen) seen.more.push(path);
    else this.refs.set(key, { path, message, more: [] });
  }

  problems(): ConfigProblem[] {
    return [...this.refs.values()].map(({ path, message, more }) => {
      if (more.length === 0) return { path, message };
      const shown = more.slice(0, 3).map(formatPath).join(', ');
      return { path, message: `${message}; named ${more.length} more time${more.length === 1 ? '' : 's'}: ${shown}${more.length > 3 ? ', …' : ''}` };
    });
  }
}

/**
 * Cross-checks a device against the profiles and gateways; returns its profile when
 * usable. A gateway the file wrote but could not use (its entry has a problem of its
 * own) makes the device unusable without a second report.
 */
export function checkDevice(device: DeviceConfig, dp: (...p: Path) => Path, profiles: SiteProfiles, gateways: GatewayConfig[], written: WrittenNames, unknown: UnknownRefs, problems: ConfigProblem[]): DeviceProfile | undefined {
  const found = profiles.use(device.profile);
  if ('message' in found) {
    problems.push({ path: dp('profile'), message: found.message });
    return undefined;
  }
  const profile = found.profile;
  const before = problems.length;
  let usable = true;
  for (const e of profiles.contract(profile).errors) problems.push({ path: dp('profile'), message: e });
  if (profile.protocol === 'mqtt' && !device.mqtt) problems.push({ path: dp(), message: `profile ${profile.id} is MQTT: give mqtt.base` });
  if (profile.protocol === 'modbus' && !device.modbus) problems.push({ path: dp(), message: `profile ${profile.id} is Modbus: give modbus.unit and gateway or host` });
  if (profile.protocol === 'mqtt' && device.modbus) problems.push({ path: dp('modbus'), message: `profile ${profile.id} is MQTT, not Modbus` });
  if (profile.protocol === 'modbus' && device.mqtt) problems.push({ path: dp('mqtt'), message: `profile ${profile.id} is Modbus, not MQTT` });
  const gateway = device.modbus?.gateway;
  if (gateway !== undefined && !gateways.some((g) => g.id === gateway)) {
    usable = false;
    if (written.unknown(gateway)) unknown.add('gateway', gateway, dp('modbus', 'gateway'), `unknown gateway "${gateway}"${hint(gateway, written.list())}`);
  }
  for (const ch of Object.keys(device.channels ?? {}))
    if (!profile.channels?.[ch]) problems.push({ path: dp('channels', ch), message: `profile ${profile.id} has no channel "${ch}"${hint(ch, Object.keys(profile.channels ?? {}))}` });
  return usable && problems.length === before ? profile : undefined;
}

/**
 * A room's scenes against its devices' points (after channel expansion): the point
 * exists, is writable, takes the value, and a door lock is written only with
 * allow_locks. A step writing a device the room wrote but could not use (unknown
 * profile, bad address) is that device's problem, already reported.
 */
export function checkScenes(room: Pick<RoomConfig, 'id' | 'scenes'>, devices: ResolvedDevice[], written: WrittenNames, at: (...p: Path) => Path, problems: ConfigProblem[]) {
  const points = new Map(devices.flatMap((d) => d.points.map((p) => [p.id, { p, kind: d.profile.kind }] as const)));
  const usable = new Set(devices.map((d) => d.name));
  for (const [name, scene] of Object.entries(room.scenes)) {
    scene.steps.forEach((step, s) => {
      if (!('set' in step)) return;
      const where = at('scenes', name, 'steps', s, 'set');
      const device = step.set.split('.')[0]!;
      if (!usable.has(device) && !written.unknown(device)) return;
      const found = points.get(step.set);
      if (!found) {
        problems.push({ path: where, message: `room ${room.id} has no point "${step.set}"${hint(step.set, [...points.keys()])}` });
        return;
      }
      const def = found.p.def;
      if (!def.writable) problems.push({ path: where, message: `point ${step.set} is read-only` });
      if (found.kind === 'door' && /lock/.test(step.set) && !scene.allow_locks)
        problems.push({ path: where, message: `scene "${name}" writes a door lock; set allow_locks: true if that is intended` });
      const v = step.value;
      const valuePath = at('scenes', name, 'steps', s, 'value');
      if (def.type === 'number' && typeof v !== 'number') problems.push({ path: valuePath, message: `${step.set} takes a number` });
      else if (def.type === 'boolean' && typeof v !== 'boolean') problems.push({ path: valuePath, message: `${step.set} takes true or false` });
      else if (def.type === 'enum' && !def.values!.includes(String(v))) problems.push({ path: valuePath, message: `${step.set} takes one of ${def.values!.join(', ')}` });
      else if (def.type === 'number' && typeof v === 'number') {
        const lo = def.safe?.min ?? def.min;
        const hi = def.safe?.max ?? def.max;
        if ((lo !== undefined && v < lo) || (hi !== undefined && v > hi)) problems.push({ path: valuePath, message: `${v} is outside ${step.set}'s safe range ${lo ?? '…'}–${hi ?? '…'}` });
      }
    });
  }
}
