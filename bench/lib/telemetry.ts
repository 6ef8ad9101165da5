/**
 * The bench's building and its telemetry: N rooms, each with 8 telemetry points on
 * 8 JSON state topics, and K rounds in which every point reports a new value. The
 * values change every round, so every message must become exactly one applied
 * reading (one `point` event) in roomctl; a lost or unapplied message shows up as
 * a missing count, never as speed.
 */

export const POINTS_PER_ROOM = 8;
export const TOPIC_ROOT = 'bench';

export interface TelemetryPoint {
  /** Room point id in roomctl, e.g. `audio.mic.3.level`. */
  id: string;
  /** Topic below `bench/<room>/`. */
  suffix: string;
  /** The JSON field the device publishes. */
  field: string;
  min: number;
  max: number;
  value(room: number, round: number): number;
}

/** 0..100, different for consecutive rounds (7 is not a multiple of 101). */
const step = (room: number, round: number, salt: number) => (round * 7 + room + salt) % 101;

export const TELEMETRY: TelemetryPoint[] = [
  { id: 'lights.main.level', suffix: 'lights/main/state', field: 'level', min: 0, max: 100, value: (r, k) => step(r, k, 0) },
  { id: 'lights.board.level', suffix: 'lights/board/state', field: 'level', min: 0, max: 100, value: (r, k) => step(r, k, 1) },
  ...[1, 2, 3, 4].map((mic) => ({
    id: `audio.mic.${mic}.level`,
    suffix: `dsp/mic/${mic}`,
    field: 'level',
    min: -120,
    max: 0,
    value: (r: number, k: number) => -(step(r, k, mic + 1) + 0.5),
  })),
  { id: 'air.co2', suffix: 'air/state', field: 'co2', min: 300, max: 10000, value: (r, k) => 400 + step(r, k, 6) * 10 },
  { id: 'occupancy.count', suffix: 'occupancy/state', field: 'count', min: 0, max: 2000, value: (r, k) => step(r, k, 7) },
];

export const roomId = (i: number) => `R${String(i + 1).padStart(5, '0')}`;

/** A site config for `rooms` rooms, with the shipped device profiles that carry the 8 points. */
export function siteYaml(rooms: number): string {
  const out = ['site: { id: bench, name: Bench Building, timezone: UTC }', 'rooms:'];
  for (let i = 0; i < rooms; i++) {
    const id = roomId(i);
    const base = `${TOPIC_ROOT}/${id}`;
    out.push(
      `  - id: ${id}`,
      `    name: Room ${i + 1}`,
      '    capacity: 12',
      '    devices:',
      `      - { name: lights, profile: lighting-mqtt, mqtt: { base: ${base}/lights }, channels: { zone: [main, board] } }`,
      `      - { name: audio, profile: dsp-mqtt, mqtt: { base: ${base}/dsp }, channels: { mic: 4 } }`,
      `      - { name: air, profile: air-quality-mqtt, mqtt: { base: ${base}/air } }`,
      `      - { name: occupancy, profile: occupancy-mqtt, mqtt: { base: ${base}/occupancy } }`,
    );
  }
  return `${out.join('\n')}\n`;
}

export interface Message {
  topic: string;
  payload: Buffer;
}

/** Every message of the run, round by round, generated before the clock starts. */
export function generateMessages(rooms: number, rounds: number): Message[] {
  const topics = Array.from({ length: rooms }, (_, r) => TELEMETRY.map((p) => `${TOPIC_ROOT}/${roomId(r)}/${p.suffix}`));
  const out: Message[] = [];
  for (let k = 0; k < rounds; k++)
    for (let r = 0; r < rooms; r++)
      for (let j = 0; j < TELEMETRY.length; j++) {
        const p = TELEMETRY[j]!;
        out.push({ topic: topics[r]![j]!, payload: Buffer.from(JSON.stringify({ [p.field]: p.value(r, k) })) });
      }
  return out;
}

/** The range check the Node-RED peer runs, keyed by topic like roomctl's profiles are. */
export function rangeCheckSource(): string {
  return TELEMETRY.map((p) => `  [${JSON.stringify(p.suffix)}, ${JSON.stringify(p.field)}, ${p.min}, ${p.max}]`).join(',\n');
}
