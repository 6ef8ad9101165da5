import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModbusAdapter, type ModbusAdapterOptions } from '../../src/adapters/modbus.ts';
import { loadConfigText, type Site } from '../../src/config/load.ts';
import { SHIPPED_PROFILES_DIR } from '../../src/config/profiles.ts';
import { silentLogger } from '../../src/log.ts';
import { EventBus } from '../../src/model/bus.ts';
import { systemClock, type Clock, type TimerHandle } from '../../src/model/clock.ts';
import { CommandRouter } from '../../src/model/commands.ts';
import type { PayloadRejection } from '../../src/model/points.ts';
import { RoomStateStore } from '../../src/model/room-state.ts';

/**
 * A one-room site whose devices are Modbus units on the gateways given, with the
 * shipped profiles plus the test's own, a room state store and a running adapter:
 * what the issue-12 tests share, whichever peer answers on the other side.
 */
export function profilesDirWith(profiles: Record<string, string>): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'roomctl-modbus-profiles-'));
  for (const f of ['fcu-modbus.yaml', 'fau-modbus.yaml']) copyFileSync(join(SHIPPED_PROFILES_DIR, f), join(dir, f));
  for (const [id, text] of Object.entries(profiles)) writeFileSync(join(dir, `${id}.yaml`), text);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function modbusSite(profilesDir: string, gateways: string[], devices: string[]): Site {
  const load = loadConfigText(
    `
site: { id: t, name: Modbus Test, timezone: Asia/Shanghai }
modbus:
  gateways:
${gateways.map((g) => `    - ${g}`).join('\n')}
rooms:
  - id: R1
    name: Room 1
    capacity: 10
    devices:
${devices.map((d) => `      - ${d}`).join('\n')}
`,
    { env: {}, profilesDir },
  );
  if (!load.site || load.errors.length > 0) throw new Error(`test config is invalid:\n${load.errors.join('\n')}`);
  return load.site;
}

export type ModbusRig = Awaited<ReturnType<typeof startModbusRig>>;

export async function startModbusRig(site: Site, opts: { clock?: Clock; adapter?: ModbusAdapterOptions } = {}) {
  const clock = opts.clock ?? systemClock;
  const listenerErrors: string[] = [];
  const bus = new EventBus((event, err) => listenerErrors.push(`${event}: ${String(err)}`));
  const store = new RoomStateStore(site, bus, clock);
  store.start();
  const rejections: PayloadRejection[] = [];
  bus.on('payload-rejected', (r) => rejections.push(r));
  const adapter = new ModbusAdapter(site.rooms[0]!.devices, store, bus, clock, silentLogger, { reconnectMinMs: 100, reconnectMaxMs: 1000, ...opts.adapter });
  await adapter.start();
  const point = (id: string) => site.rooms[0]!.devices.flatMap((d) => d.points).find((p) => p.id === id)!;
  const device = (name: string) => adapter.stats().devices[`R1/${name}`]!;
  return {
    site,
    bus,
    store,
    adapter,
    clock,
    rejections,
    listenerErrors,
    point,
    device,
    state: (id: string) => store.get('R1', id)!,
    polls: (name: string) => device(name).polls,
    good: (name: string) => store.roomPoints('R1').filter((p) => p.device === name).every((p) => p.quality === 'good'),
    router: new CommandRouter(site, [adapter], bus, clock),
    stop: async () => {
      await adapter.stop();
      store.stop();
    },
  };
}

/** Virtual time the test moves by hand, so each poll happens exactly when the test says. */
export class ManualClock implements Clock {
  private t = Date.parse('2026-11-23T09:00:00+08:00');
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): TimerHandle => {
    const timer = { at: this.t + ms, seq: this.seq++, fn };
    this.timers.push(timer);
    return timer as unknown as TimerHandle;
  };
  clearTimeout = (handle: TimerHandle): void => {
    this.timers = this.timers.filter((x) => x !== (handle as unknown));
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}
