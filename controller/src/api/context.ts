import type { Site } from '../config/load.ts';
import type { Engine } from '../engine/engine.ts';
import type { Schedule } from '../engine/timeline/schedule.ts';
import type { Logger } from '../log.ts';
import type { EventBus } from '../model/bus.ts';
import type { Clock } from '../model/clock.ts';
import type { RoomStateStore } from '../model/room-state.ts';
import type { MqttAdapterStats } from '../adapters/mqtt.ts';
import type { ModbusAdapterStats } from '../adapters/modbus.ts';
import type { RecorderStats } from '../recorder/recorder.ts';
import type { AlertAcks } from './alert-acks.ts';
import type { AuditLog } from './audit.ts';
import type { TokenStore } from './auth.ts';
import type { RecentEvents } from './recent-events.ts';

/**
 * What the API needs of the running service. RoomctlService satisfies it as it is
 * (after start() has created the engine and the MQTT adapter), so tests build the app
 * on a real service; nothing here is an adapter class.
 */
export interface ApiDeps {
  site: Site;
  clock: Clock;
  bus: EventBus;
  state: RoomStateStore;
  schedule: Schedule;
  engine: Engine;
  /** `<prefix>/<site>`. */
  sitePrefix: string;
  dataDir: string;
  recorder?: { stats(): RecorderStats };
  mqtt?: { readonly connected: boolean; stats(): MqttAdapterStats; subscribe?(filter: string, handler: (topic: string, payload: Buffer) => void): () => void };
  modbus?: { stats(): ModbusAdapterStats };
}

/** Everything a route file gets: the service, and the API's own stores. */
export interface ApiContext extends ApiDeps {
  tokens: TokenStore;
  audit: AuditLog;
  acks: AlertAcks;
  recent: RecentEvents;
  log: Logger;
  /** Keypad request counts (accepted, rejected, coalesced), when the keypad feature runs. */
  keypad?: () => Record<string, number>;
  /** Limits per minute (real time) on scene activation, by role. */
  sceneLimits: SceneLimits;
}

export interface SceneLimits {
  panel: number;
  attendant: number;
  other: number;
}

/** "A panel cannot fire more than a few scenes a minute" (issue 6): a wall tablet pressed by a child, or a stuck button. */
export const DEFAULT_SCENE_LIMITS: SceneLimits = { panel: 6, attendant: 30, other: 60 };
