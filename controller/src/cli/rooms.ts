import type { RoomSummary } from '../api/schemas.ts';
import { apiCall, apiTarget, EXIT, localTime, reportError, table, type TargetOptions } from './api-client.ts';

/** `roomctl rooms`: every room the token may see — phase, temperature against the band, readiness, the focus meeting, alerts, devices, last scene. */
export async function roomsCommand(opts: TargetOptions & { json?: boolean }): Promise<number> {
  const target = apiTarget(opts);
  try {
    const [{ rooms }, site] = await Promise.all([apiCall<{ rooms: RoomSummary[] }>(target, 'GET', '/api/v1/rooms'), apiCall<{ timezone: string }>(target, 'GET', '/api/v1/site')]);
    if (opts.json) {
      console.log(JSON.stringify(rooms, null, 2));
      return EXIT.ok;
    }
    const rows = rooms.map((r) => [
      r.id,
      r.name,
      r.phase,
      `${r.temperature === null ? '—' : `${r.temperature.toFixed(1)}°C`} (${r.band[0]}–${r.band[1]})`,
      r.ready === null ? '—' : r.ready ? 'ready' : `not ready: ${r.failing.join(', ')}`,
      r.meeting ? `${localTime(r.meeting.start, site.timezone).slice(11)} ${r.meeting.level}${r.meeting.title ? ` ${r.meeting.title}` : ''}` : '—',
      r.alertsActive ? `${r.alertsActive}${r.alertsCritical ? ` (${r.alertsCritical} critical)` : ''}` : '0',
      `${r.devicesOnline}/${r.devicesTotal}`,
      r.scene ? `${r.scene.name}${r.scene.ok ? '' : ' (failed)'}` : '—',
    ]);
    console.log(table(['ROOM', 'NAME', 'PHASE', 'TEMP (BAND)', 'READINESS', 'MEETING', 'ALERTS', 'DEVICES', 'SCENE'], rows));
    return EXIT.ok;
  } catch (err) {
    return reportError(err, 'rooms');
  }
}
