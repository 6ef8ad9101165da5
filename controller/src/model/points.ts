/** Points: one typed value of a room, with a timestamp and a quality. */
export type Quality = 'good' | 'stale' | 'offline';
export type PointValue = number | boolean | string;
export type PointType = 'number' | 'boolean' | 'enum' | 'string';

export interface PointState {
  /** Room-level id, e.g. `hvac.setpoint`, `lights.main.level`, `audio.mic.1.level`. */
  id: string;
  room: string;
  device: string;
  value: PointValue | null;
  /** When the value was last received (ms, clock time); 0 if never. */
  ts: number;
  quality: Quality;
}

/** Emitted whenever a point's value or quality changes. */
export interface PointUpdate {
  room: string;
  point: string;
  device: string;
  value: PointValue | null;
  ts: number;
  quality: Quality;
  previous: { value: PointValue | null; quality: Quality };
}

export interface DeviceHealth {
  room: string;
  device: string;
  online: boolean;
  /** Last poll/round-trip latency in ms where the protocol has one (Modbus). */
  latencyMs?: number;
  errors: number;
  lastError?: string;
  ts: number;
}

export interface CommandRecord {
  room: string;
  device: string;
  point: string;
  requested: PointValue;
  /** Value actually sent, after clamping to the point's safe limits. */
  sent: PointValue;
  clamped: boolean;
  commandId: string;
  ts: number;
}

export interface PayloadRejection {
  room: string;
  device: string;
  topic: string;
  reason: string;
  /** Rejections of this device so far. */
  count: number;
  ts: number;
}
