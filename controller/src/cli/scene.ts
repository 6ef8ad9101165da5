import type { SceneResult } from '../engine/reconcile/scenes.ts';
import { apiCall, apiTarget, EXIT, reportError, type TargetOptions } from './api-client.ts';

/** `roomctl scene ROOM NAME`: apply a scene and show each write as read back; exit 0 all confirmed, 1 a write failed, 2 refused. */
export async function sceneCommand(room: string, name: string, opts: TargetOptions & { json?: boolean }): Promise<number> {
  try {
    const r = await apiCall<SceneResult>(apiTarget(opts), 'POST', `/api/v1/rooms/${encodeURIComponent(room)}/scenes/${encodeURIComponent(name)}`);
    if (opts.json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`${r.room}: scene ${r.scene}`);
      for (const w of r.applied) console.log(`  ${w.confirmed ? '✓' : '✗'} ${w.point} = ${String(w.sent ?? w.value)}${w.attempts > 1 ? ` (${w.attempts} attempts)` : ''}`);
      for (const s of r.skipped) console.log(`  – ${s.point} skipped: ${s.why}`);
      console.log(r.ok ? 'applied: every write confirmed' : `failed${r.failed?.point ? ` at ${r.failed.point}` : ''}: ${r.failed?.reason ?? 'not confirmed'}`);
    }
    return r.ok ? EXIT.ok : EXIT.failed;
  } catch (err) {
    return reportError(err, 'scene');
  }
}
