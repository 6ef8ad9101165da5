import type { Room } from '../config/load.ts';
import type { RoomctlService, Feature } from '../service.ts';
import { comfortBand, seasonAt } from '../model/season.ts';
import type { PointState } from '../model/points.ts';
import { localDate, localTime } from '../model/local-time.ts';

export interface TableOptions {
  out?: NodeJS.WriteStream;
  /** Real-time redraw interval on a TTY. */
  redrawMs?: number;
  /** Clock time between plain log lines when not on a TTY. */
  logEveryMs?: number;
  /** Extra columns from later features (phase, readiness). */
  extraColumns?: { title: string; value: (room: Room) => string }[];
}

/**
 * The demo's live view of every room: temperature against its comfort band, lights,
 * microphones, door, occupancy and devices online. Redrawn in place on a terminal;
 * plain lines (one per room, every few virtual minutes) when piped to a file.
 */
export function demoTable(service: RoomctlService, options: TableOptions = {}): Feature {
  const out = options.out ?? process.stdout;
  const tty = !!out.isTTY;
  let timer: NodeJS.Timeout | undefined;
  let lastLog = 0;
  return {
    name: 'demo table',
    start() {
      timer = setInterval(() => {
        const now = service.clock.now();
        if (tty) {
          out.write(`\x1b[H\x1b[2J${render(service, now, options).join('\n')}\n`);
        } else if (now - lastLog >= (options.logEveryMs ?? 15 * 60_000)) {
          lastLog = now;
          out.write(`${render(service, now, options).join('\n')}\n\n`);
        }
      }, options.redrawMs ?? 1000);
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

export function render(service: RoomctlService, now: number, options: TableOptions = {}): string[] {
  const site = service.site.config.site;
  // The whole date, as --day takes it: which day the demo plays is part of what it shows.
  const weekday = new Intl.DateTimeFormat('en-GB', { timeZone: site.timezone, weekday: 'short' }).format(now);
  const time = `${weekday} ${localDate(now, site.timezone)} ${localTime(now, site.timezone)}`;
  const season = seasonAt(site, now);
  const extra = options.extraColumns ?? [];
  const header = ['room', 'seats', 'temp °C (band)', 'set', 'lights', 'mics ok', 'door', 'people', 'online', ...extra.map((c) => c.title)];
  const rows = service.site.rooms.map((room) => {
    const pts = new Map(service.state.roomPoints(room.id).map((p) => [p.id, p]));
    const [lo, hi] = comfortBand(room.policy, season);
    const t = pts.get('hvac.temperature');
    const temp = t ? `${fmt(t, (v) => Number(v).toFixed(1))}${inBand(t, lo, hi)} (${lo}–${hi})` : '—';
    const set = pts.get('hvac.setpoint');
    const lights = [...pts.values()].filter((p) => /^lights\.[^.]+\.level$/.test(p.id));
    const lightsText = lights.length ? lights.map((p) => fmt(p, (v) => `${v}%`)).join('/') : '—';
    const micLevels = [...pts.values()].filter((p) => /^audio\.mic\.\d+\.level$/.test(p.id));
    const micsOk = micLevels.filter((p) => p.quality === 'good' && Number(p.value) > room.policy.mic.min_level_dbfs).length;
    const door = pts.get('door.contact');
    const locked = pts.get('door.locked');
    const doorText = door ? `${fmt(door, String)}${locked?.quality === 'good' ? (locked.value ? ' 🔒' : '') : ''}` : '—';
    const count = pts.get('occupancy.count');
    const health = room.devices.map((d) => service.state.deviceHealth(room.id, d.name));
    const online = `${health.filter((h) => h?.online).length}/${health.length}`;
    return [room.id, String(room.capacity), temp, set ? fmt(set, String) : '—', lightsText, micLevels.length ? `${micsOk}/${micLevels.length}` : '—', doorText, count ? fmt(count, String) : '—', online, ...extra.map((c) => c.value(room))];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => width(r[i]!))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - width(c))).join('  ');
  return [`roomctl demo · ${service.site.config.site.name} · ${time} (${season}) · Ctrl-C to stop`, line(header), ...rows.map(line)];
}

function fmt(p: PointState, show: (v: unknown) => string): string {
  if (p.value === null) return p.quality === 'offline' ? 'offline' : '?';
  const s = show(p.value);
  return p.quality === 'good' ? s : `${s} (${p.quality})`;
}

function inBand(p: PointState, lo: number, hi: number): string {
  if (p.quality !== 'good' || typeof p.value !== 'number') return '';
  return p.value >= lo && p.value <= hi ? ' ✓' : ' ✗';
}

/** Display width, counting emoji (the lock) as two columns. */
const width = (s: string) => [...s].reduce((n, ch) => n + (ch.codePointAt(0)! >= 0x1f000 ? 2 : 1), 0);
