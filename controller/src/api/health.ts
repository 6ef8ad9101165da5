import { z } from 'zod';
import type { ApiContext } from './context.ts';

/**
 * The service's health, as /healthz answers it and /metrics exports it: one verdict
 * (ok, degraded, down) with every reason named, so a load balancer, Prometheus and an
 * engineer all read the same truth. It names components and devices, never a room's
 * state or a meeting (P15).
 *
 * Reasons (stable ids; each also a gauge `roomctl_health_degraded{reason}`):
 *   mqtt_disconnected            the MQTT link to the broker is down: no MQTT device can be
 *                                heard or commanded — status `down` (503), as before
 *   modbus_gateway_disconnected  a Modbus gateway's connection is down
 *   modbus_units_missing_polls   a Modbus unit missed its last poll(s): in backoff, or
 *                                offline after offline_after misses (modbus.degraded names it)
 *   devices_offline              a device its adapter reported offline (devices.offline names it)
 *   influx_unavailable           InfluxDB is away: the recorder is spooling to disk
 *   influx_refusing_points       InfluxDB refused points in the last 10 minutes (influx.refusals
 *                                says which, how many and why)
 *   recorder_dropping_points     points were lost in the last 10 minutes (spool full, disk
 *                                error: influx.dropped_by)
 */
export const HEALTH_REASONS = [
  'mqtt_disconnected',
  'modbus_gateway_disconnected',
  'modbus_units_missing_polls',
  'devices_offline',
  'influx_unavailable',
  'influx_refusing_points',
  'recorder_dropping_points',
] as const;
export type HealthReason = (typeof HEALTH_REASONS)[number];

/** A refusal or a drop this recent (real time) still degrades the service: InfluxDB runs on real time. */
export const RECENT_LOSS_MS = 10 * 60_000;

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded', 'down']),
  reasons: z.array(z.enum(HEALTH_REASONS)),
  broker: z.object({ connected: z.boolean() }),
  modbus: z.object({
    gateways: z.array(z.object({ id: z.string(), connected: z.boolean(), timeouts: z.number() })),
    degraded: z.array(z.object({ device: z.string(), misses: z.number(), timeouts: z.number(), error: z.string().optional() })),
  }),
  influx: z.object({
    configured: z.boolean(),
    mode: z.string(),
    /** Points InfluxDB acknowledged, in memory (queued or in flight), in the on-disk spool. */
    written: z.number(),
    pending: z.number(),
    spooled: z.number(),
    /** Points InfluxDB refused, and roomctl lost, since start (exact). */
    refused: z.number(),
    dropped: z.number(),
    /** Events that could not become a valid point (bad input, skipped). */
    invalid: z.number(),
    refusals: z.array(z.object({ cause: z.string(), rp: z.string(), points: z.number(), explanation: z.string(), last: z.string() })),
    dropped_by: z.record(z.string(), z.number()),
  }),
  devices: z.object({ online: z.number(), total: z.number(), offline: z.array(z.string()) }),
});
export type Health = z.infer<typeof healthSchema>;

/** Modbus links by the gateway id the config gives them (the key where it gives none). */
export function gatewayNames(ctx: Pick<ApiContext, 'site'>): Map<string, string> {
  const names = new Map<string, string>();
  for (const g of ctx.site.config.modbus.gateways) {
    if (g.tcp) names.set(`tcp:${g.tcp.host}:${g.tcp.port}`, g.id);
    if (g.rtu) names.set(`rtu:${g.rtu.path}`, g.id);
  }
  // Devices may be moved to other ports (the simulator does): name by the devices' own links too.
  for (const room of ctx.site.rooms) for (const d of room.devices) if (d.modbus && !names.has(d.modbus.link.key)) names.set(d.modbus.link.key, d.modbus.link.key);
  return names;
}

export function healthOf(ctx: ApiContext, now = Date.now()): Health {
  const names = gatewayNames(ctx);
  const gateways = Object.entries(ctx.modbus?.stats().links ?? {}).map(([key, s]) => ({ id: names.get(key) ?? key, connected: s.connected, timeouts: s.timeouts }));
  const degraded = Object.entries(ctx.modbus?.stats().devices ?? {})
    .filter(([, d]) => d.misses > 0)
    .map(([device, d]) => ({ device, misses: d.misses, timeouts: d.timeouts, error: d.lastError }));
  const rec = ctx.recorder?.stats();
  const influx = {
    configured: !!ctx.site.config.influx?.url,
    mode: rec?.mode ?? 'spool-only',
    written: rec?.written ?? 0,
    pending: rec?.queued ?? 0,
    spooled: rec?.spooled ?? 0,
    refused: rec?.rejected ?? 0,
    dropped: rec?.dropped ?? 0,
    invalid: rec?.invalid ?? 0,
    refusals: (rec?.refusals ?? []).map((r) => ({ cause: r.cause, rp: r.rp, points: r.points, explanation: r.explanation, last: new Date(r.lastAt).toISOString() })),
    dropped_by: Object.fromEntries(Object.entries(rec?.droppedBy ?? {}).filter(([, n]) => n > 0)),
  };
  const all = ctx.state.allDeviceHealth();
  // Offline as its adapter reported it (a last will, Modbus misses); a device not heard
  // from yet since start is not counted (MQTT devices speak on change).
  const offline = all.filter((h) => !h.online && h.ts > 0).map((h) => `${h.room}/${h.device}`);
  const broker = { connected: !!ctx.mqtt?.connected };

  const reasons: HealthReason[] = [];
  if (!broker.connected) reasons.push('mqtt_disconnected');
  if (gateways.some((g) => !g.connected)) reasons.push('modbus_gateway_disconnected');
  if (degraded.length > 0) reasons.push('modbus_units_missing_polls');
  if (offline.length > 0) reasons.push('devices_offline');
  if (influx.mode === 'spooling') reasons.push('influx_unavailable');
  if (rec && rec.lastRefusedAt > 0 && now - rec.lastRefusedAt < RECENT_LOSS_MS) reasons.push('influx_refusing_points');
  if (rec && rec.lastDroppedAt > 0 && now - rec.lastDroppedAt < RECENT_LOSS_MS) reasons.push('recorder_dropping_points');

  const status = !broker.connected ? 'down' : reasons.length > 0 ? 'degraded' : 'ok';
  return { status, reasons, broker, modbus: { gateways, degraded }, influx, devices: { online: all.filter((h) => h.online).length, total: all.length, offline } };
}
