import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApiContext } from './context.ts';
import { gatewayNames, HEALTH_REASONS, healthOf } from './health.ts';

/**
 * Prometheus metrics (prom-client, one registry per app so two services in one test
 * process do not collide). Counters fed by the bus (commands, alerts, scenes, Modbus
 * latency) and gauges read from the adapters and the recorder at scrape time.
 * P15: labels are site-level only — room, device, gateway, check, quality — never a
 * meeting, let alone its title.
 */
export interface ApiMetrics {
  registry: Registry;
  websocketClients: Gauge;
  stop(): void;
}

export { gatewayNames };

export function createMetrics(ctx: ApiContext): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'roomctl_' });
  const off: (() => void)[] = [];
  const registers = [registry];
  const mirror = (name: string, help: string, read: () => number | undefined) =>
    new Counter({ name, help, registers, collect() { const v = read(); this.reset(); if (v !== undefined) this.inc(v); } });

  new Gauge({ name: 'roomctl_mqtt_connected', help: '1 while the MQTT connection to the broker is up', registers, collect() { this.set(ctx.mqtt?.connected ? 1 : 0); } });
  mirror('roomctl_mqtt_messages_received_total', 'Messages received on device state and availability topics', () => ctx.mqtt?.stats().received);
  mirror('roomctl_mqtt_messages_applied_total', 'Device messages that gave at least one valid reading', () => ctx.mqtt?.stats().applied);
  mirror('roomctl_mqtt_messages_rejected_total', 'Device readings rejected (bad payload, out of range)', () => ctx.mqtt?.stats().rejected);
  mirror('roomctl_mqtt_reconnects_total', 'MQTT reconnect attempts', () => ctx.mqtt?.stats().reconnects);

  const commands = new Counter({ name: 'roomctl_commands_total', help: 'Point writes sent to devices', labelNames: ['room', 'device', 'protocol'] as const, registers });
  const clamped = new Counter({ name: 'roomctl_commands_clamped_total', help: 'Point writes clamped to the point\'s safe limits', labelNames: ['room'] as const, registers });
  const protocolOf = new Map(ctx.site.rooms.flatMap((r) => r.devices.map((d) => [`${r.id}/${d.name}`, d.profile.protocol] as const)));
  off.push(
    ctx.bus.on('command', (c) => {
      commands.inc({ room: c.room, device: c.device, protocol: protocolOf.get(`${c.room}/${c.device}`) ?? 'unknown' });
      if (c.clamped) clamped.inc({ room: c.room });
    }),
  );

  const gateways = gatewayNames(ctx);
  const linkOf = new Map(ctx.site.rooms.flatMap((r) => r.devices.flatMap((d) => (d.modbus ? [[`${r.id}/${d.name}`, d.modbus.link.key] as const] : []))));
  const pollLatency = new Histogram({ name: 'roomctl_modbus_poll_latency_seconds', help: 'Modbus poll round trip per gateway', labelNames: ['gateway'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
  off.push(
    ctx.bus.on('device', (d) => {
      const link = linkOf.get(`${d.room}/${d.device}`);
      if (link && typeof d.latencyMs === 'number') pollLatency.observe({ gateway: gateways.get(link) ?? link }, d.latencyMs / 1000);
    }),
  );
  const linkGauge = (name: string, help: string, field: 'requests' | 'timeouts' | 'exceptions' | 'reconnects' | 'connected') =>
    new Gauge({
      name, help, labelNames: ['gateway'] as const, registers,
      collect() {
        this.reset();
        for (const [key, s] of Object.entries(ctx.modbus?.stats().links ?? {})) this.set({ gateway: gateways.get(key) ?? key }, Number(s[field]));
      },
    });
  linkGauge('roomctl_modbus_gateway_connected', '1 while the Modbus gateway connection is up', 'connected');
  linkGauge('roomctl_modbus_requests', 'Modbus requests sent per gateway since start', 'requests');
  linkGauge('roomctl_modbus_timeouts', 'Modbus requests that timed out per gateway since start', 'timeouts');
  linkGauge('roomctl_modbus_exceptions', 'Modbus exception answers per gateway since start', 'exceptions');

  new Gauge({
    name: 'roomctl_points', help: 'Room points by quality', labelNames: ['quality'] as const, registers,
    collect() {
      const n = { good: 0, stale: 0, offline: 0 };
      for (const r of ctx.site.rooms) for (const p of ctx.state.roomPoints(r.id)) n[p.quality]++;
      for (const [q, v] of Object.entries(n)) this.set({ quality: q }, v);
    },
  });
  new Gauge({
    name: 'roomctl_devices', help: 'Devices by state', labelNames: ['state'] as const, registers,
    collect() {
      const all = ctx.state.allDeviceHealth();
      const online = all.filter((h) => h.online).length;
      this.set({ state: 'online' }, online);
      this.set({ state: 'offline' }, all.length - online);
    },
  });

  new Gauge({
    name: 'roomctl_alerts_active', help: 'Active alerts by severity', labelNames: ['severity'] as const, registers,
    collect() {
      const active = ctx.engine.activeAlerts();
      this.set({ severity: 'warning' }, active.filter((a) => a.severity === 'warning').length);
      this.set({ severity: 'critical' }, active.filter((a) => a.severity === 'critical').length);
    },
  });
  const raised = new Counter({ name: 'roomctl_alerts_raised_total', help: 'Alerts raised, by check', labelNames: ['check'] as const, registers });
  const scenes = new Counter({ name: 'roomctl_scenes_total', help: 'Scenes applied, by result', labelNames: ['result'] as const, registers });
  off.push(
    ctx.bus.on('alert', (a) => a.state === 'raised' && raised.inc({ check: a.check })),
    ctx.bus.on('activity', (a) => a.kind === 'scene' && scenes.inc({ result: a.result })),
  );

  const rec = () => ctx.recorder?.stats();
  new Gauge({ name: 'roomctl_recorder_queue_lines', help: 'Recorder lines in memory (queued or in flight)', registers, collect() { this.set(rec()?.queued ?? 0); } });
  new Gauge({ name: 'roomctl_recorder_spool_lines', help: 'Recorder lines waiting in the on-disk spool', registers, collect() { this.set(rec()?.spooled ?? 0); } });
  new Gauge({ name: 'roomctl_recorder_spool_bytes', help: 'Size of the recorder spool', registers, collect() { this.set(rec()?.spoolBytes ?? 0); } });
  new Gauge({
    name: 'roomctl_recorder_mode', help: '1 for the recorder\'s current mode', labelNames: ['mode'] as const, registers,
    collect() { for (const m of ['live', 'spooling', 'spool-only']) this.set({ mode: m }, rec()?.mode === m ? 1 : 0); },
  });
  mirror('roomctl_recorder_written_total', 'Lines InfluxDB acknowledged', () => rec()?.written);
  mirror('roomctl_recorder_dropped_total', 'Lines lost past the spool bound', () => rec()?.dropped);
  mirror('roomctl_recorder_rejected_total', 'Lines InfluxDB refused for good', () => rec()?.rejected);
  new Counter({
    name: 'roomctl_recorder_refused_points_total', help: 'Points InfluxDB refused, by cause (retention, type_conflict, unparsable, other) and retention policy', labelNames: ['cause', 'rp'] as const, registers,
    collect() { this.reset(); for (const r of rec()?.refusals ?? []) this.inc({ cause: r.cause, rp: r.rp }, r.points); },
  });
  new Counter({
    name: 'roomctl_recorder_dropped_points_total', help: 'Points roomctl lost before InfluxDB, by cause (spool_full, spool_write_failed, torn_spool_line, damaged_spool_line)', labelNames: ['cause'] as const, registers,
    collect() { this.reset(); for (const [cause, n] of Object.entries(rec()?.droppedBy ?? {})) this.inc({ cause }, n); },
  });
  mirror('roomctl_recorder_invalid_total', 'Events that could not become a valid point (skipped)', () => rec()?.invalid);

  // The /healthz verdict, reason by reason (every reason always present: 0 or 1).
  new Gauge({
    name: 'roomctl_health_degraded', help: '1 while this reason degrades the service (the reasons of /healthz)', labelNames: ['reason'] as const, registers,
    collect() { const now = healthOf(ctx).reasons; for (const r of HEALTH_REASONS) this.set({ reason: r }, now.includes(r) ? 1 : 0); },
  });
  new Gauge({
    name: 'roomctl_health_status', help: '1 for the /healthz status (ok, degraded, down)', labelNames: ['status'] as const, registers,
    collect() { const s = healthOf(ctx).status; for (const st of ['ok', 'degraded', 'down']) this.set({ status: st }, s === st ? 1 : 0); },
  });

  mirror('roomctl_audit_failures_total', 'Audit entries that could not be written', () => ctx.audit.failures);
  new Gauge({
    name: 'roomctl_keypad_messages', help: 'Keypad scene requests over MQTT since start, by result', labelNames: ['result'] as const, registers,
    collect() { for (const [result, n] of Object.entries(ctx.keypad?.() ?? {})) this.set({ result }, n); },
  });
  const websocketClients = new Gauge({ name: 'roomctl_websocket_clients', help: 'Open live WebSocket connections', registers });

  return {
    registry,
    websocketClients,
    stop() {
      for (const o of off) o();
      registry.clear();
    },
  };
}
