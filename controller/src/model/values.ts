import type { PointDef } from '../config/profile-schema.ts';
import { ErrorCode, RoomctlError } from '../errors.ts';
import type { PointValue } from './points.ts';

export type Checked = { ok: true; value: PointValue } | { ok: false; reason: string };

/**
 * Checks a value a device reported against its point definition. Used by every
 * adapter, so "out of range" or "wrong type" means the same thing for MQTT and Modbus.
 */
export function checkReading(def: PointDef, raw: unknown, map?: Record<string, PointValue>): Checked {
  let v = raw;
  if (map && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
    const mapped = map[String(v)];
    if (mapped !== undefined) v = mapped;
  }
  switch (def.type) {
    case 'number': {
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) v = Number(v);
      if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, reason: `expected a number, got ${show(raw)}` };
      if (def.min !== undefined && v < def.min) return { ok: false, reason: `${v} is below the point's minimum ${def.min}` };
      if (def.max !== undefined && v > def.max) return { ok: false, reason: `${v} is above the point's maximum ${def.max}` };
      return { ok: true, value: v };
    }
    case 'boolean':
      if (v === 'true') v = true;
      else if (v === 'false') v = false;
      else if (v === 1 || v === 0) v = v === 1;
      if (typeof v !== 'boolean') return { ok: false, reason: `expected true/false, got ${show(raw)}` };
      return { ok: true, value: v };
    case 'enum':
      if (typeof v !== 'string' || !def.values!.includes(v)) return { ok: false, reason: `expected one of ${def.values!.join('/')}, got ${show(raw)}` };
      return { ok: true, value: v };
    case 'string':
      if (typeof v !== 'string' && typeof v !== 'number') return { ok: false, reason: `expected text, got ${show(raw)}` };
      return { ok: true, value: String(v).slice(0, 256) };
  }
}

/**
 * Prepares a command value: type-checked, and for numbers clamped into the point's
 * safe range (safe → min/max). Nothing outside those limits is ever sent to a device.
 */
export function valueForWrite(pointId: string, def: PointDef, requested: PointValue): { value: PointValue; clamped: boolean } {
  if (!def.writable) throw new RoomctlError(ErrorCode.PointNotWritable, `point ${pointId} is read-only`);
  const bad = (what: string) => new RoomctlError(ErrorCode.PointValueInvalid, `point ${pointId} takes ${what}, got ${show(requested)}`);
  switch (def.type) {
    case 'number': {
      if (typeof requested !== 'number' || !Number.isFinite(requested)) throw bad('a number');
      const lo = def.safe?.min ?? def.min ?? -Infinity;
      const hi = def.safe?.max ?? def.max ?? Infinity;
      const value = Math.min(hi, Math.max(lo, requested));
      return { value, clamped: value !== requested };
    }
    case 'boolean':
      if (typeof requested !== 'boolean') throw bad('true or false');
      return { value: requested, clamped: false };
    case 'enum':
      if (typeof requested !== 'string' || !def.values!.includes(requested)) throw bad(`one of ${def.values!.join('/')}`);
      return { value: requested, clamped: false };
    case 'string':
      if (typeof requested !== 'string') throw bad('text');
      return { value: requested, clamped: false };
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}…` : v);
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s.length > 40 ? `${s.slice(0, 40)}…` : s;
  } catch {
    return typeof v;
  }
}
