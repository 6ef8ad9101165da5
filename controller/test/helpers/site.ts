import { EventBus } from '../../src/model/bus.ts';
import { loadConfigText, type Site } from '../../src/config/load.ts';
import { systemClock, type Clock } from '../../src/model/clock.ts';
import { RoomStateStore } from '../../src/model/room-state.ts';
import type { ResolvedDevice } from '../../src/model/devices.ts';

/**
 * Builds a Site from YAML text with the shipped device profiles, as `roomctl start`
 * would. Any config error fails the test at once with every message.
 */
export function siteFromYaml(yaml: string, env: NodeJS.ProcessEnv = {}): Site {
  const load = loadConfigText(yaml, { env });
  if (!load.site || load.errors.length > 0) throw new Error(`test site config is invalid:\n${load.errors.join('\n')}\n${load.skipped.join('\n')}`);
  return load.site;
}

/** Every MQTT device of a site, as the MQTT adapter takes them. */
export function mqttDevices(site: Site): ResolvedDevice[] {
  return site.rooms.flatMap((r) => r.devices.filter((d) => d.profile.protocol === 'mqtt'));
}

/** Two rooms using each shipped MQTT profile the adapter tests need. */
export const TWO_ROOMS_YAML = `
site: { id: test, name: Test Building, timezone: Asia/Shanghai }
rooms:
  - id: 3F-301
    name: Room 301
    capacity: 20
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/3F-301/lights }, channels: { zone: [main, board] } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: t/3F-301/dsp }, channels: { mic: 4 } }
      - { name: door, profile: door-mqtt, mqtt: { base: t/3F-301/door } }
      - { name: window, profile: window-mqtt, mqtt: { base: t/3F-301/window } }
      - { name: display, profile: display-mqtt, mqtt: { base: t/3F-301/display } }
  - id: 5F-501
    name: Room 501
    capacity: 8
    devices:
      - { name: lights, profile: lighting-mqtt, mqtt: { base: t/5F-501/lights } }
      - { name: audio, profile: dsp-mqtt, mqtt: { base: t/5F-501/dsp }, channels: { mic: 2 } }
      - { name: window, profile: window-mqtt, mqtt: { base: t/5F-501/window } }
`;

/** A site with its room state store and bus, wired as the service wires them. */
export function testSite(yaml = TWO_ROOMS_YAML, clock: Clock = systemClock): { site: Site; bus: EventBus; store: RoomStateStore; listenerErrors: string[] } {
  const site = siteFromYaml(yaml);
  // The bus swallows listener errors by design; tests collect them to assert there were none.
  const listenerErrors: string[] = [];
  const bus = new EventBus((event, err) => listenerErrors.push(`${event}: ${(err as Error).message}`));
  return { site, bus, store: new RoomStateStore(site, bus, clock), listenerErrors };
}
