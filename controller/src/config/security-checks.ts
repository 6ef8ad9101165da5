import type { Site } from './load.ts';
import type { ApiConfig, MqttConfig } from './schema.ts';
import { formatPath } from './issues.ts';
import type { Written } from './written.ts';

/**
 * The security cross-checks of a site (issue 11), for `roomctl validate` and start-up:
 * errors a building must not run with, and warnings it should hear about.
 */
export interface SecurityFindings {
  errors: string[];
  warnings: string[];
}

export interface SecurityProblem {
  path: (string | number)[];
  message: string;
  severity: 'error' | 'warning';
}

/** What the checks read: the mqtt and api sections and the rooms' devices (from a Site, or what validate could read of a broken file). */
export interface SecurityInput {
  mqtt: MqttConfig;
  api: ApiConfig;
  rooms: { id: string; devices: { name: string; mqtt?: unknown }[] }[];
  /** Names the file wrote: a login for a device or room whose entry has problems of its own is not reported again. */
  written?: Written;
}

/** 127.0.0.0/8, ::1 and localhost; 0.0.0.0, :: and every other address reach the network. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function securityFindings(site: Site): SecurityFindings {
  const all = securityProblems({ mqtt: site.config.mqtt, api: site.config.api, rooms: site.rooms });
  const text = (severity: SecurityProblem['severity']) => all.filter((p) => p.severity === severity).map((p) => `${formatPath(p.path)}: ${p.message}`);
  return { errors: text('error'), warnings: text('warning') };
}

export function securityProblems(input: SecurityInput): SecurityProblem[] {
  const out: SecurityProblem[] = [];
  const error = (path: (string | number)[], message: string) => out.push({ path, message, severity: 'error' });
  const warning = (path: (string | number)[], message: string) => out.push({ path, message, severity: 'warning' });
  const { mqtt, api, written } = input;
  if (!mqtt.url) {
    const b = mqtt.broker;
    const exposed = !isLoopback(b.host);
    if (b.allow_anonymous && exposed)
      error(['mqtt', 'broker', 'allow_anonymous'], `the embedded broker listens on ${b.host}, beyond loopback, without authentication: anyone on the network could command the doors. Remove allow_anonymous and give each device a login in mqtt.broker.users`);
    else if (b.allow_anonymous) warning(['mqtt', 'broker', 'allow_anonymous'], 'clients without a username get in (loopback only; for a lab, not a building)');
    const users = b.users ?? [];
    const known = new Set(input.rooms.flatMap((r) => r.devices.filter((d) => d.mqtt).map((d) => `${r.id}/${d.name}`)));
    const usable = new Set(input.rooms.flatMap((r) => r.devices.map((d) => `${r.id}/${d.name}`)));
    // A device the file wrote but could not use (its entry has a problem) is that entry's mistake.
    const unusable = (ref: string) => !!written?.devices.has(ref) && !usable.has(ref);
    const roomUnknown = (id: string) => (written ? written.rooms.unknown(id) : !input.rooms.some((r) => r.id === id));
    users.forEach((u, i) => {
      for (const ref of u.devices) if (!known.has(ref) && !unusable(ref)) error(['mqtt', 'broker', 'users', i, 'devices'], `"${ref}" is not an MQTT device of this site (room/device)`);
      for (const room of u.keypads) if (roomUnknown(room)) error(['mqtt', 'broker', 'users', i, 'keypads'], `unknown room "${room}"`);
    });
    const dup = users.map((u) => u.username).filter((n, i, all) => all.indexOf(n) !== i);
    for (const n of new Set(dup)) error(['mqtt', 'broker', 'users'], `username "${n}" is given more than once`);
    if (exposed && !b.allow_anonymous) {
      const covered = new Set(users.flatMap((u) => u.devices));
      const missing = [...known].filter((d) => !covered.has(d));
      if (missing.length > 0) warning(['mqtt', 'broker', 'users'], `${missing.length} MQTT device${missing.length === 1 ? ' has' : 's have'} no login and cannot connect: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
      if (b.plain !== false && !b.tls) warning(['mqtt', 'broker'], `listening on ${b.host} without TLS: device passwords and commands cross the network in clear (set mqtt.broker.tls with cert and key)`);
    }
  } else if (/^(mqtt|tcp|ws):\/\//.test(mqtt.url) && mqtt.password !== undefined) {
    const host = new URL(mqtt.url.replace(/^tcp:/, 'mqtt:')).hostname;
    if (!isLoopback(host)) warning(['mqtt', 'url'], `${mqtt.url} is not TLS: roomctl's password crosses the network in clear (use mqtts:// and mqtt.tls)`);
  }
  if (api.enabled && !isLoopback(api.host) && !api.tls)
    warning(['api', 'host'], `the API listens on ${api.host}, beyond loopback, without TLS: bearer tokens would cross the network in clear (set api.tls with cert and key)`);
  return out;
}
