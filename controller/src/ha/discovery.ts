import type { Room } from '../config/load.ts';
import type { RoomPhase } from '../engine/readiness/room-watch.ts';
import { topics } from '../model/topics.ts';

/**
 * Home Assistant MQTT discovery payloads (issue 7): each room appears in Home
 * Assistant as one device with
 *   sensor         temperature, one per `<device>.temperature` point in °C
 *   binary_sensor  ready (the room's readiness verdict), failing checks as attributes
 *   sensor         phase (enum: idle, open, preparing, ready, …)
 *   scene          one per configured scene; activating it publishes the scene name on
 *                  `<prefix>/<site>/rooms/<room>/scene/set`, the keypad topic (api/keypad.ts)
 * The entities read the retained topics roomctl already publishes — `rooms/<room>/state`
 * (model/state-publisher.ts) and `rooms/<room>/readiness` (engine readinessOf) — so
 * nothing extra is sent for Home Assistant but these config messages. Availability
 * follows roomctl's own `<prefix>/<site>/status` (online/offline, last will).
 *
 * Topic: `<discovery_prefix>/<component>/<node_id>/<object_id>/config`, node_id
 * `roomctl_<site>`; both ids only use [a-zA-Z0-9_-] as the discovery topic requires.
 * `object_id` sets the entity id on Home Assistant before 2025.10; from 2025.10 that
 * job is `default_entity_id` (`<component>.<object_id>`) and older versions drop the
 * key they do not know. See https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
 * P15: nothing here carries a meeting title or organizer.
 */
export type HaComponent = 'sensor' | 'binary_sensor' | 'scene';

export interface DiscoveryMessage {
  topic: string;
  component: HaComponent;
  payload: Record<string, unknown>;
}

export interface DiscoveryContext {
  discoveryPrefix: string;
  /** `<prefix>/<site>`, e.g. `roomctl/hq`. */
  sitePrefix: string;
  siteId: string;
  siteName: string;
  language: 'en' | 'zh-CN';
  swVersion?: string;
}

/** Entity names in the site's panel language (site.language). */
const NAMES = {
  en: { temperature: 'Temperature', ready: 'Ready', phase: 'Phase' },
  'zh-CN': { temperature: '温度', ready: '就绪', phase: '阶段' },
} as const;

export const PHASES: readonly RoomPhase[] = ['idle', 'open', 'preparing', 'ready', 'not_ready', 'in_session', 'closing', 'closed', 'released'];

/** Lowercase [a-z0-9_]: a safe node_id/object_id and a valid entity id slug. */
export const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '') || 'x';

export const nodeId = (siteId: string) => `roomctl_${slug(siteId)}`;

/** Jinja that reads one point of the retained state payload; `None` makes Home Assistant show "unknown". */
function pointTemplate(point: string): string {
  const key = JSON.stringify(point).replace(/"/g, "'");
  return `{% set p = (value_json.points | default({})).get(${key}) %}{{ p.value if p and p.quality != 'offline' and p.value is number else None }}`;
}

export function roomDiscovery(room: Room, ctx: DiscoveryContext): DiscoveryMessage[] {
  const node = nodeId(ctx.siteId);
  const roomSlug = slug(room.id);
  const stateTopic = topics.roomState(ctx.sitePrefix, room.id);
  const readinessTopic = topics.roomReadiness(ctx.sitePrefix, room.id);
  const device = {
    identifiers: [`${node}_${roomSlug}`],
    name: room.name,
    manufacturer: 'roomctl',
    model: 'Meeting room',
    suggested_area: room.name,
    ...(ctx.swVersion ? { sw_version: ctx.swVersion } : {}),
  };
  const entity = (component: HaComponent, key: string, fields: Record<string, unknown>): DiscoveryMessage => {
    const objectId = `${roomSlug}_${slug(key)}`;
    return {
      component,
      topic: `${ctx.discoveryPrefix}/${component}/${node}/${objectId}/config`,
      payload: {
        unique_id: `${node}_${objectId}`,
        object_id: `${node}_${objectId}`,
        default_entity_id: `${component}.${node}_${objectId}`,
        availability_topic: topics.status(ctx.sitePrefix),
        payload_available: 'online',
        payload_not_available: 'offline',
        device,
        origin: { name: 'roomctl', ...(ctx.swVersion ? { sw_version: ctx.swVersion } : {}) },
        ...fields,
      },
    };
  };

  const names = NAMES[ctx.language];
  const out: DiscoveryMessage[] = [];
  const temps = room.devices.flatMap((d) => d.points.filter((p) => p.id === `${d.name}.temperature` && p.def.type === 'number' && p.def.unit === '°C'));
  for (const p of temps)
    out.push(
      entity('sensor', p.id, {
        name: temps.length === 1 ? names.temperature : `${names.temperature} (${p.device})`,
        state_topic: stateTopic,
        value_template: pointTemplate(p.id),
        device_class: 'temperature',
        unit_of_measurement: '°C',
        state_class: 'measurement',
        suggested_display_precision: 1,
        qos: 1,
      }),
    );
  out.push(
    entity('binary_sensor', 'ready', {
      name: names.ready,
      icon: 'mdi:check-decagram',
      state_topic: readinessTopic,
      value_template: "{{ 'ON' if value_json.ready == true else ('OFF' if value_json.ready == false else 'None') }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      json_attributes_topic: readinessTopic,
      json_attributes_template:
        "{{ {'failing': value_json.failing | default([]), 'meeting_level': (value_json.meeting or {}).level | default(none), 'meeting_start': (value_json.meeting or {}).start | default(none)} | tojson }}",
      qos: 1,
    }),
  );
  out.push(
    entity('sensor', 'phase', {
      name: names.phase,
      icon: 'mdi:timeline-clock-outline',
      state_topic: readinessTopic,
      value_template: '{{ value_json.phase }}',
      device_class: 'enum',
      options: [...PHASES],
      qos: 1,
    }),
  );
  for (const [name, scene] of Object.entries(room.scenes)) {
    const label = (ctx.language === 'zh-CN' ? (scene.label?.['zh-CN'] ?? scene.label?.en) : (scene.label?.en ?? scene.label?.['zh-CN'])) ?? name;
    out.push(
      entity('scene', `scene_${name}`, {
        name: label,
        icon: 'mdi:palette-outline',
        command_topic: topics.roomSceneSet(ctx.sitePrefix, room.id),
        payload_on: name,
        retain: false,
        qos: 1,
      }),
    );
  }
  return out;
}
