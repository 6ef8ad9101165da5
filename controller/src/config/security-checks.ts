import type { Site } from './load.ts';

/**
 * The security cross-checks of a site (issue 11), for `roomctl validate` and start-up:
 * errors a building must not run with, and warnings it should hear about.
 */
export interface SecurityFindings {
  errors: string[];
  warnings: string[];
}

/** 127.0.0.0/8, ::1 and localhost; 0.0.0.0, :: and every other address reach the network. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function securityFindings(site: Site): SecurityFindings {
  const errors: string[] = [];
  const warnings: string[] = [];
  const { mqtt, api } = site.config;
  if (!mqtt.url) {
    const b = mqtt.broker;
    const exposed = !isLoopback(b.host);
    if (b.allow_anonymous && exposed)
      errors.push(`mqtt.broker.allow_anonymous: the embedded broker listens on ${b.host}, beyond loopback, without authentication: anyone on the network could command the doors. Remove allow_anonymous and give each device a login in mqtt.broker.users`);
    else if (b.allow_anonymous) warnings.push('mqtt.broker.allow_anonymous: clients without a username get in (loopback only; for a lab, not a building)');
    const users = b.users ?? [];
    const known = new Set(site.rooms.flatMap((r) => r.devices.filter((d) => d.mqtt).map((d) => `${r.id}/${d.name}`)));
    users.forEach((u, i) => {
      for (const ref of u.devices) if (!known.has(ref)) errors.push(`mqtt.broker.users[${i}].devices: "${ref}" is not an MQTT device of this site (room/device)`);
      for (const room of u.keypads) if (!site.rooms.some((r) => r.id === room)) errors.push(`mqtt.broker.users[${i}].keypads: unknown room "${room}"`);
    });
    const dup = users.map((u) => u.username).filter((n, i, all) => all.indexOf(n) !== i);
    for (const n of new Set(dup)) errors.push(`mqtt.broker.users: username "${n}" is given more than once`);
    if (exposed && !b.allow_anonymous) {
      const covered = new Set(users.flatMap((u) => u.devices));
      const missing = [...known].filter((d) => !covered.has(d));
      if (missing.length > 0) warnings.push(`mqtt.broker.users: ${missing.length} MQTT device${missing.length === 1 ? ' has' : 's have'} no login and cannot connect: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
      if (b.plain !== false && !b.tls) warnings.push(`mqtt.broker: listening on ${b.host} without TLS: device passwords and commands cross the network in clear (set mqtt.broker.tls with cert and key)`);
    }
  } else if (/^(mqtt|tcp|ws):\/\//.test(mqtt.url) && mqtt.password !== undefined) {
    const host = new URL(mqtt.url.replace(/^tcp:/, 'mqtt:')).hostname;
    if (!isLoopback(host)) warnings.push(`mqtt.url: ${mqtt.url} is not TLS: roomctl's password crosses the network in clear (use mqtts:// and mqtt.tls)`);
  }
  if (api.enabled && !isLoopback(api.host) && !api.tls)
    warnings.push(`api.host: the API listens on ${api.host}, beyond loopback, without TLS: bearer tokens would cross the network in clear (set api.tls with cert and key)`);
  return { errors, warnings };
}
