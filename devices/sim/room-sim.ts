import type { Room } from '../../controller/src/config/load.ts';
import type { SimRoomConfig } from '../../controller/src/config/simulation-schema.ts';
import { Dsp } from './mics.ts';
import { FanCoilUnit, FreshAirUnit } from './modbus-units.ts';
import { AirQualitySensor, Boiler, Display, Door, FireAlarmInput, Lights, OccupancySensor, PassiveDevice, WindowContact } from './mqtt-devices.ts';
import type { OccupancyModel } from './occupancy.ts';
import type { Rng } from './random.ts';
import type { FaultView, RoomEnvironment, SimDevice } from './sim-device.ts';
import { OUTDOOR_CO2_PPM, RoomAir, roomParams, type OutdoorWeather } from './thermal.ts';

/**
 * One simulated room: its air, its people and the models of its devices, built
 * from the room's resolved devices by profile kind. Each tick the devices act
 * first (a fan-coil unit sets its output from the temperature it senses), then
 * the air integrates everything that acted on it.
 */
export class RoomSim {
  readonly env: RoomEnvironment;
  readonly models: SimDevice[] = [];
  readonly air: RoomAir;
  readonly wirelessMics: string[];

  constructor(
    readonly room: Room,
    private settings: SimRoomConfig,
    rng: Rng,
    faults: FaultView,
    private weather: OutdoorWeather,
    private occupancy: OccupancyModel,
    now: number,
  ) {
    const params = roomParams(room.capacity, settings, rng.fork('params'));
    this.air = new RoomAir(params, weather.coreAt(now), OUTDOOR_CO2_PPM + 30);
    this.env = { roomId: room.id, capacity: room.capacity, air: this.air, faults, now, outdoorC: weather.temperatureAt(now), people: 0, movements: 0, inSession: false, meetingNow: false };
    this.wirelessMics = (settings.wireless_mics ?? []).map(String);
    const fcus = room.devices.filter((d) => d.profile.kind === 'hvac').length;
    const faus = room.devices.filter((d) => d.profile.kind === 'fresh_air').length;
    for (const device of room.devices) {
      const r = rng.fork(`device:${device.name}`);
      const env = this.env;
      switch (device.profile.kind) {
        case 'hvac':
          this.models.push(new FanCoilUnit(device, env, r, params.coolingW / fcus, 24));
          break;
        case 'fresh_air':
          this.models.push(new FreshAirUnit(device, env, r, params.freshAirM3h / faus));
          break;
        case 'lighting':
          this.models.push(new Lights(device, env));
          break;
        case 'audio':
          this.models.push(new Dsp(device, env, r, this.wirelessMics));
          break;
        case 'door':
          this.models.push(new Door(device, env));
          break;
        case 'window':
          this.models.push(new WindowContact(device, env));
          break;
        case 'occupancy':
          this.models.push(new OccupancySensor(device, env));
          break;
        case 'display':
          this.models.push(new Display(device, env));
          break;
        case 'boiler':
          this.models.push(new Boiler(device, env));
          break;
        case 'air_quality':
          this.models.push(new AirQualitySensor(device, env, r));
          break;
        case 'fire_alarm':
          this.models.push(new FireAlarmInput(device, env));
          break;
        default:
          this.models.push(new PassiveDevice(device, env));
      }
    }
  }

  model(deviceName: string): SimDevice | undefined {
    return this.models.find((m) => m.device.name === deviceName);
  }

  /**
   * The night before: 24 h of free-floating physics (nothing on, nobody in) so the
   * day starts from a temperature the weather and the sun produced, not from a
   * made-up number. No random draws: priming never shifts the day's streams.
   */
  prime(start: number): void {
    const step = 60;
    for (let t = start - 86_400_000; t < start; t += step * 1000) {
      this.air.step(step, {
        outdoorC: this.weather.temperatureAt(t),
        coreC: this.weather.coreAt(t),
        hvacW: 0,
        gainsW: this.air.params.solarPeakW * this.weather.sunAt(t),
        people: 0,
        doorOpen: false,
        windowOpen: false,
        freshAirM3h: 0,
        freshSupplyC: 0,
      });
    }
    if (this.settings.initial_temperature_c !== undefined) this.air.temperatureC = this.settings.initial_temperature_c;
    this.env.now = start;
    this.env.outdoorC = this.weather.temperatureAt(start);
  }

  tick(now: number, dtS: number): void {
    const env = this.env;
    env.now = now;
    env.outdoorC = this.weather.temperatureAt(now);
    env.people = this.occupancy.peopleAt(this.room.id, now);
    env.movements = this.occupancy.movementsBetween(this.room.id, now - dtS * 1000, now);
    env.meetingNow = this.occupancy.meetingAt(this.room.id, now) !== undefined;
    env.inSession = env.people > 0 && env.meetingNow;
    for (const m of this.models) m.tick(dtS);

    let hvacW = 0;
    let gainsW = this.air.params.solarPeakW * this.weather.sunAt(now);
    let freshM3h = 0;
    let freshHeat = 0;
    let doorOpen = false;
    let windowOpen = false;
    for (const m of this.models) {
      const kind = m.device.profile.kind;
      const w = m.heatW?.() ?? 0;
      if (kind === 'hvac') hvacW += w;
      else gainsW += w;
      const fresh = m.freshAir?.();
      if (fresh) {
        freshM3h += fresh.m3h;
        freshHeat += fresh.m3h * fresh.supplyC;
      }
      if (m.isOpen?.()) {
        if (kind === 'door') doorOpen = true;
        if (kind === 'window') windowOpen = true;
      }
    }
    this.air.step(dtS, {
      outdoorC: env.outdoorC,
      coreC: this.weather.coreAt(now),
      hvacW,
      gainsW,
      people: env.people,
      doorOpen,
      windowOpen,
      freshAirM3h: freshM3h,
      freshSupplyC: freshM3h > 0 ? freshHeat / freshM3h : env.outdoorC,
    });
  }
}
