import { randomUUID } from 'node:crypto';
import type { Site } from '../config/load.ts';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { DeviceAdapter, PointWriter, WriteResult } from './adapter.ts';
import type { EventBus } from './bus.ts';
import type { Clock } from './clock.ts';
import type { ResolvedPoint } from './devices.ts';
import type { PointValue } from './points.ts';
import { valueForWrite } from './values.ts';

/**
 * Routes a room-point write to the adapter of its device's protocol, after
 * type-checking and clamping the value to the point's safe limits. Every command
 * gets an id (so a duplicate delivery is recognisable) and goes out on the bus.
 */
export class CommandRouter implements PointWriter {
  private points = new Map<string, ResolvedPoint>();

  constructor(
    site: Site,
    private adapters: DeviceAdapter[],
    private bus: EventBus,
    private clock: Clock,
  ) {
    for (const room of site.rooms) for (const d of room.devices) for (const p of d.points) this.points.set(`${room.id}\u0000${p.id}`, p);
  }

  point(room: string, id: string): ResolvedPoint | undefined {
    return this.points.get(`${room}\u0000${id}`);
  }

  async write(room: string, pointId: string, requested: PointValue): Promise<WriteResult> {
    const point = this.point(room, pointId);
    if (!point) throw new RoomctlError(ErrorCode.PointUnknown, `room ${room} has no point ${pointId}`);
    const { value, clamped } = valueForWrite(pointId, point.def, requested);
    const protocol = point.mqtt ? 'mqtt' : 'modbus';
    const adapter = this.adapters.find((a) => a.protocol === protocol);
    if (!adapter) throw new RoomctlError(ErrorCode.WriteFailed, `no ${protocol} adapter is running for ${room}/${pointId}`);
    const commandId = randomUUID();
    this.bus.emit('command', { room, device: point.device, point: pointId, requested, sent: value, clamped, commandId, ts: this.clock.now() });
    await adapter.writePoint(point, value, commandId);
    return { room, point: pointId, requested, sent: value, clamped, commandId };
  }
}
