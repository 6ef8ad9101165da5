import type { ResolvedDevice, ResolvedPoint } from './devices.ts';
import type { PointValue } from './points.ts';

/**
 * What every protocol adapter offers the rest of roomctl. Domain code depends on
 * these small interfaces, never on an adapter class, so a feature can be tested
 * against any implementation.
 */
export interface DeviceAdapter {
  readonly protocol: 'mqtt' | 'modbus';
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Sends one command. `value` is already type-checked and clamped to the point's
   * safe limits (model/values.ts valueForWrite). Resolves once the transport has
   * accepted it (MQTT: PUBACK of a QoS 1 publish; Modbus: the write response);
   * rejects with a RoomctlError otherwise. Read-back verification is the engine's job.
   */
  writePoint(point: ResolvedPoint, value: PointValue, commandId: string): Promise<void>;
  /** Devices this adapter serves. */
  readonly devices: readonly ResolvedDevice[];
}

export interface WriteResult {
  room: string;
  point: string;
  requested: PointValue;
  sent: PointValue;
  clamped: boolean;
  commandId: string;
}

/** Writing a room point by id: what the engine, scenes and the API use. */
export interface PointWriter {
  write(room: string, point: string, value: PointValue): Promise<WriteResult>;
}
