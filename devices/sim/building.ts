import type { Site } from '../../controller/src/config/load.ts';
import { every, type Clock, type TimerHandle } from '../../controller/src/model/clock.ts';
import type { PointValue } from '../../controller/src/model/points.ts';
import { silentLogger, type Logger } from '../../controller/src/log.ts';
import { SimControlApi } from './control-api.ts';
import { FaultBook, type ActiveFault } from './faults.ts';
import { epochToLocal } from './local-time.ts';
import { meetingsOfDay, simulationOf, simulationProblems, type SimMeeting } from './meetings.ts';
import { Dsp } from './mics.ts';
import { ModbusGateway, type GatewayUnit } from './modbus-gateway.ts';
import { MqttDeviceLink } from './mqtt-link.ts';
import { OccupancyModel } from './occupancy.ts';
import { Rng } from './random.ts';
import { RegisterMap } from './register-map.ts';
import { RoomSim } from './room-sim.ts';
import { pointKey } from './sim-device.ts';
import { SimStats } from './stats.ts';
import { OutdoorWeather } from './thermal.ts';

export { sendFault, listFaults } from './control-api.ts';

/** Where `roomctl sim fault` finds a simulator started from this site config (loopback, simulation.control_port). */
export function simControlUrl(site: Site): string {
  return `http://127.0.0.1:${simulationOf(site).control_port}`;
}
export { FAULT_KINDS, type ActiveFault, type FaultKind } from './faults.ts';

/**
 * The simulated building: every device of a loaded Site, speaking the real
 * protocols over real sockets (Modbus TCP gateways on the ports the config
 * names, MQTT devices on a broker), living on the shared clock. Nothing here is
 * a shortcut into the controller: it is a peer, as the real building would be.
 */
export interface SimulatedBuildingOptions {
  site: Site;
  /** The clock the controller uses too (a VirtualClock for the demo and the tests). */
  clock: Clock;
  /** The broker the devices connect to, e.g. mqtt://127.0.0.1:1883. */
  brokerUrl: string;
  mqttUsername?: string;
  mqttPassword?: string;
  /** Each MQTT device's own login (the embedded broker's per-run credentials); falls back to mqttUsername/mqttPassword. */
  mqttLogin?: (room: string, device: string) => { username: string; password: string } | undefined;
  /** Default: simulation.seed of the config. */
  seed?: number;
  /** Physics step, virtual ms. Default: simulation.tick_s. */
  tickMs?: number;
  /** Serve the HTTP fault API on loopback at this port (0 = any free port); absent = no API. */
  controlPort?: number;
  /** Keep every simulated point's history (for determinism tests). */
  recordHistory?: boolean;
  logger?: Logger;
}

/** Per point `room/point`: [virtual ms, value or null while the device reports none] at each change. */
export type SimHistory = Record<string, [number, PointValue | null][]>;

/** The simulator's ground truth of a room (what the sensors measure, before the network). */
export interface RoomTruth {
  room: string;
  temperatureC: number;
  co2Ppm: number;
  humidityPct: number;
  people: number;
  outdoorC: number;
}

export class SimulatedBuilding {
  readonly stats = new SimStats();
  readonly meetings: SimMeeting[];
  readonly rooms: RoomSim[];
  /** Modbus devices the simulator cannot serve (RTU links): reported, not fatal. */
  readonly unsupported: string[] = [];
  /** Problems of the config's `simulation:` section (simulationProblems); logged at start, not fatal. */
  readonly problems: string[];
  private faultBook: FaultBook;
  private links: MqttDeviceLink[] = [];
  private gateways: ModbusGateway[] = [];
  private api: SimControlApi | undefined;
  private stopTicks: (() => void) | undefined;
  private history: SimHistory = {};
  private lastRecorded = new Map<string, PointValue | null>();
  private pendingOffline: Promise<void>[] = [];
  /** Devices rebooting (fault device_reboot), by `room/device`: the timer that brings each back. */
  private reboots = new Map<string, TimerHandle>();
  private weather: OutdoorWeather;
  private log: Logger;
  private tickMs: number;
  /** Base URL of the control API once started. */
  controlUrl: string | undefined;

  constructor(private options: SimulatedBuildingOptions) {
    const { site, clock } = options;
    const sim = simulationOf(site);
    const tz = site.config.site.timezone;
    const now = clock.now();
    const rng = new Rng(options.seed ?? sim.seed);
    this.problems = simulationProblems(site);
    this.log = (options.logger ?? silentLogger).child({ component: 'sim' });
    this.tickMs = options.tickMs ?? sim.tick_s * 1000;
    this.weather = new OutdoorWeather(sim.climate, tz, rng.fork('weather'));
    // The day is the clock's day, so a clock started elsewhere still gets its meetings.
    this.meetings = meetingsOfDay(site, epochToLocal(now, tz).day);
    const occupancy = new OccupancyModel(this.meetings, rng.fork('occupancy'));
    this.faultBook = new FaultBook(site.rooms.map((r) => ({ id: r.id, devices: r.devices, wirelessMics: (sim.rooms[r.id]?.wireless_mics ?? []).map(String) })));
    this.rooms = site.rooms.map((r) => new RoomSim(r, sim.rooms[r.id] ?? {}, rng.fork(`room:${r.id}`), this.faultBook.view(r.id), this.weather, occupancy, now));
  }

  async start(): Promise<void> {
    const now = this.options.clock.now();
    if (this.problems.length) this.log.warn({ problems: this.problems }, 'simulation section has problems; the simulator skips what it cannot use');
    for (const r of this.rooms) r.prime(now);
    try {
      await this.startGateways();
      await this.startMqttDevices(now);
      if (this.options.controlPort !== undefined) {
        this.api = new SimControlApi(this, this.options.controlPort);
        this.controlUrl = await this.api.start();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    // On the air: every first publish acknowledged, so a controller that subscribes
    // now finds each retained state exactly once.
    await this.drained(10_000);
    this.record(now);
    this.stopTicks = every(this.options.clock, this.tickMs, () => this.tick());
    this.log.info({ rooms: this.rooms.length, mqttDevices: this.links.length, modbusGateways: this.gateways.map((g) => `${g.host}:${g.port}`), control: this.controlUrl }, 'simulated building started');
  }

  async stop(): Promise<void> {
    this.stopTicks?.();
    this.stopTicks = undefined;
    for (const timer of this.reboots.values()) this.options.clock.clearTimeout(timer);
    this.reboots.clear();
    await Promise.allSettled(this.pendingOffline);
    await this.api?.stop();
    this.api = undefined;
    await Promise.allSettled(this.links.map((l) => l.stop()));
    await Promise.allSettled(this.gateways.map((g) => g.stop()));
    this.links = [];
    this.gateways = [];
  }

  /**
   * Injects (or clears) a fault: `kind` may carry a target, e.g. `dead_mic:2`. Throws FaultError on bad input.
   * `device_reboot` clears itself when the device is back (fault.until); clearing it
   * earlier brings the device back at once, clearing it after is a no-op.
   */
  injectFault(room: string, kind: string, clear = false): ActiveFault {
    const now = this.options.clock.now();
    const { fault, changed } = this.faultBook.set(room, kind, clear, now);
    const roomSim = this.rooms.find((r) => r.room.id === room)!;
    if (fault.kind === 'low_mic_battery') for (const m of roomSim.models) if (m instanceof Dsp) clear ? m.swapBattery(fault.target) : m.lowBattery(fault.target);
    if (fault.kind === 'device_offline') this.setLinkOffline(room, fault.target, !clear, now);
    if (fault.kind === 'device_reboot' && changed) {
      if (clear) this.powerBack(roomSim, fault.target, now);
      else this.powerLoss(roomSim, fault, now);
    }
    this.log.info({ room, kind: fault.kind, target: fault.target, clear }, clear ? 'fault cleared' : 'fault injected');
    this.afterChange(now);
    return fault;
  }

  /** device_reboot: the device goes dark and forgets what it was told; it comes back at fault.until. */
  private powerLoss(roomSim: RoomSim, fault: ActiveFault, now: number): void {
    roomSim.model(fault.target)?.reboot?.();
    this.setLinkOffline(fault.room, fault.target, true, now);
    const key = `${fault.room}/${fault.target}`;
    this.reboots.set(
      key,
      this.options.clock.setTimeout(() => {
        this.reboots.delete(key);
        this.injectFault(fault.room, `device_reboot:${fault.target}`, true);
      }, (fault.until ?? now) - now),
    );
  }

  /** device_reboot over: the device boots with its factory state and answers (Modbus) or reconnects (MQTT) again. */
  private powerBack(roomSim: RoomSim, device: string, now: number): void {
    const key = `${roomSim.room.id}/${device}`;
    const timer = this.reboots.get(key);
    if (timer) this.options.clock.clearTimeout(timer);
    this.reboots.delete(key);
    roomSim.model(device)?.reboot?.();
    this.links.find((l) => l.model.device.room === roomSim.room.id && l.model.device.name === device)?.forgetCommands();
    this.setLinkOffline(roomSim.room.id, device, false, now);
  }

  private setLinkOffline(room: string, device: string, offline: boolean, now: number): void {
    const link = this.links.find((l) => l.model.device.room === room && l.model.device.name === device);
    // Still dark while another fault holds it down (device_offline and device_reboot on one device).
    const held = this.faultBook.has(room, 'device_offline', device) || this.faultBook.has(room, 'device_reboot', device);
    if (link) this.pendingOffline.push(link.setOffline(offline || held, now).catch((err) => this.log.warn({ err }, 'simulated device reconnect failed')));
  }

  faults(): ActiveFault[] {
    return this.faultBook.list();
  }

  /** Ground truth of every room, for the demo table and for tests. */
  truth(): RoomTruth[] {
    return this.rooms.map((r) => ({
      room: r.room.id,
      temperatureC: r.air.temperatureC,
      co2Ppm: r.air.co2Ppm,
      humidityPct: r.air.humidityPct,
      people: r.env.people,
      outdoorC: r.env.outdoorC,
    }));
  }

  /** Recorded point histories (options.recordHistory). */
  histories(): SimHistory {
    return structuredClone(this.history);
  }

  /** For harness.ts quietSettle: changes whenever the simulator sends or receives anything. */
  activity(): number {
    return this.stats.activity();
  }

  /** For harness.ts quietSettle: publishes not yet acknowledged, Modbus requests not yet answered. */
  pending(): number {
    return this.stats.pending();
  }

  /** Waits (real time, bounded) until no publish is waiting for its acknowledgement. */
  private async drained(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.stats.pending() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  }

  private tick(): void {
    const now = this.options.clock.now();
    const dtS = this.tickMs / 1000;
    this.weather.step(dtS);
    for (const r of this.rooms) r.tick(now, dtS);
    this.stats.ticks++;
    for (const l of this.links) l.publishDue(now);
    this.record(now);
  }

  private afterChange(now: number): void {
    for (const l of this.links) l.publishDue(now);
    this.record(now);
  }

  private record(now: number): void {
    if (!this.options.recordHistory) return;
    for (const r of this.rooms)
      for (const m of r.models)
        for (const p of m.device.points) {
          const id = `${r.room.id}/${p.id}`;
          const v = m.read(pointKey(m.device, p.id)) ?? null;
          if (this.lastRecorded.has(id) && this.lastRecorded.get(id) === v) continue;
          this.lastRecorded.set(id, v);
          (this.history[id] ??= []).push([now, v]);
        }
  }

  private async startGateways(): Promise<void> {
    const byLink = new Map<string, { host: string; port: number; units: Map<number, GatewayUnit> }>();
    for (const r of this.rooms)
      for (const m of r.models) {
        const mb = m.device.modbus;
        if (!mb) continue;
        if (!mb.link.tcp) {
          this.unsupported.push(`${r.room.id}/${m.device.name} (Modbus RTU ${mb.link.rtu?.path})`);
          continue;
        }
        let gw = byLink.get(mb.link.key);
        if (!gw) byLink.set(mb.link.key, (gw = { host: mb.link.tcp.host, port: mb.link.tcp.port, units: new Map() }));
        if (gw.units.has(mb.unit)) {
          this.unsupported.push(`${r.room.id}/${m.device.name} (unit ${mb.unit} on ${mb.link.key} is taken)`);
          continue;
        }
        const room = r.room.id;
        const name = m.device.name;
        gw.units.set(mb.unit, {
          map: new RegisterMap(m, () => this.record(this.options.clock.now())),
          silent: () => this.faultBook.has(room, 'fcu_offline', name) || this.faultBook.has(room, 'device_offline', name) || this.faultBook.has(room, 'device_reboot', name),
        });
      }
    for (const { host, port, units } of byLink.values()) {
      const gw = new ModbusGateway(host, port, units, this.stats);
      await gw.start();
      this.gateways.push(gw);
    }
    if (this.unsupported.length) this.log.warn({ devices: this.unsupported }, 'the simulator cannot serve these devices');
  }

  private async startMqttDevices(now: number): Promise<void> {
    const site = this.options.site.config.site.id;
    for (const r of this.rooms)
      for (const m of r.models) {
        if (!m.device.mqtt) continue;
        const staleMs = Math.min(...m.device.points.map((p) => p.def.stale_after_s * 1000));
        const room = r.room.id;
        const name = m.device.name;
        const link: MqttDeviceLink = new MqttDeviceLink(m, {
          brokerUrl: this.options.brokerUrl,
          clientId: `sim-${site}-${room}-${name}`,
          username: this.options.mqttLogin?.(room, name)?.username ?? this.options.mqttUsername,
          password: this.options.mqttLogin?.(room, name)?.password ?? this.options.mqttPassword,
          stats: this.stats,
          // Well inside the stalest window, never faster than the physics step.
          refreshMs: Math.max(this.tickMs, Math.floor(staleMs / 3)),
          // Air-quality sensors report on an interval, as battery sensors do.
          minIntervalMs: m.device.profile.kind === 'air_quality' ? 60_000 : 0,
          garbage: () => this.faultBook.has(room, 'sensor_garbage', name),
          onCommand: (l, keys) => {
            const t = this.options.clock.now();
            this.record(t);
            l.publishDue(t, false, l.topicsOf(keys));
          },
        });
        this.links.push(link);
      }
    await Promise.all(this.links.map((l) => l.start(now)));
  }
}
