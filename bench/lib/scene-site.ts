import { siteYaml } from './telemetry.ts';

/**
 * bench:scene's building: the ingest bench's telemetry rooms (the background load) and
 * one more room with a lighting controller of six zones, whose two scenes write all
 * twelve of its points (on + level per zone). The bench presses `a` and `b` in turn, so
 * every write changes its point and roomctl must see each one read back before it
 * sends the next (a write already showing its value would be confirmed at once).
 * The Node-RED flow sends the same twelve commands to a second, identical controller.
 */
export const SCENE_ROOM = 'SCENE-1';
/** The lighting controller the Node-RED flow commands (not a roomctl room). */
export const RED_ROOM = 'RED-1';
export const ZONES = ['z1', 'z2', 'z3', 'z4', 'z5', 'z6'] as const;
export const SCENE_TOPIC_ROOT = 'bench-scene';
export const SCENES = ['a', 'b'] as const;
export type SceneName = (typeof SCENES)[number];
export const WRITES_PER_SCENE = ZONES.length * 2;

export const lightsBase = (room: string) => `${SCENE_TOPIC_ROOT}/${room}/lights`;
/** Where Node-RED listens for a press (a keypad's topic). */
export const RED_PRESS_TOPIC = `${SCENE_TOPIC_ROOT}/${RED_ROOM}/scene/set`;

/** The scene's writes in order: per zone, on, then level. */
export function sceneWrites(scene: SceneName): { zone: string; field: 'on' | 'level'; value: boolean | number }[] {
  return ZONES.flatMap((zone, i) => [
    { zone, field: 'on' as const, value: scene === 'a' },
    { zone, field: 'level' as const, value: (scene === 'a' ? 80 : 20) + i + 1 },
  ]);
}

/** The site roomctl runs: `rooms` telemetry rooms from the ingest bench, then the scene room. */
export function sceneSiteYaml(rooms: number, brokerUrl: string): string {
  const telemetry = siteYaml(rooms);
  const roomsPart = telemetry.slice(telemetry.indexOf('\nrooms:') + 1);
  const steps = (s: SceneName) => sceneWrites(s).map((w) => `          - { set: lights.${w.zone}.${w.field}, value: ${w.value} }`);
  return [
    'site: { id: bench, name: Bench Building, timezone: UTC }',
    `mqtt: { url: "${brokerUrl}", client_id: roomctl-bench-scene }`,
    rooms > 0 ? roomsPart.trimEnd() : 'rooms:',
    `  - id: ${SCENE_ROOM}`,
    '    name: Scene bench room',
    '    capacity: 12',
    '    devices:',
    `      - { name: lights, profile: lighting-mqtt, mqtt: { base: ${lightsBase(SCENE_ROOM)} }, channels: { zone: [${ZONES.join(', ')}] } }`,
    '    scenes:',
    ...SCENES.flatMap((s) => [`      ${s}:`, '        steps:', ...steps(s)]),
    '',
  ].join('\n');
}

/** The Node-RED function node's body: one press → the same twelve commands, as one array (sent in order). */
export function redFanOutSource(): string {
  const a = sceneWrites('a').map((w) => ({ topic: `${lightsBase(RED_ROOM)}/${w.zone}/set`, payload: { [w.field]: w.value } }));
  const b = sceneWrites('b').map((w) => ({ topic: `${lightsBase(RED_ROOM)}/${w.zone}/set`, payload: { [w.field]: w.value } }));
  return [
    `const scenes = { a: ${JSON.stringify(a)}, b: ${JSON.stringify(b)} };`,
    'const list = scenes[String(msg.payload).trim()];',
    'if (!list) return null;',
    'return [list.map((m) => ({ topic: m.topic, payload: m.payload }))];',
  ].join('\n');
}
