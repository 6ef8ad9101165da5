/**
 * Who may do what through the API (issue 6, item 2). A token has one role and,
 * optionally, the rooms it is scoped to; every route names the one permission it
 * needs, so the whole policy is this table and nothing else.
 *
 *   admin      everything, including tokens, the audit log and the configuration
 *   engineer   everything but tokens, the audit log and the configuration
 *   scheduler  meetings only (the booking system's way in)
 *   attendant  scenes and state of the rooms it is scoped to
 *   viewer     read-only; never a meeting title or organizer (P15)
 *   panel      one room: its state and its scenes (a wall tablet)
 */
export const ROLES = ['admin', 'engineer', 'scheduler', 'attendant', 'viewer', 'panel'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'site:read',
  'rooms:read',
  'scenes:run',
  'checks:run',
  'meetings:read',
  'meetings:write',
  'readiness:read',
  'alerts:read',
  'alerts:ack',
  'events:read',
  'live:read',
  'metrics:read',
  'audit:read',
  'tokens:manage',
  'config:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ADMIN_ONLY: ReadonlySet<Permission> = new Set(['audit:read', 'tokens:manage', 'config:read']);

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(PERMISSIONS),
  engineer: new Set(PERMISSIONS.filter((p) => !ADMIN_ONLY.has(p))),
  scheduler: new Set(['site:read', 'meetings:read', 'meetings:write']),
  attendant: new Set(['site:read', 'rooms:read', 'scenes:run', 'live:read']),
  viewer: new Set(['site:read', 'rooms:read', 'meetings:read', 'readiness:read', 'alerts:read', 'events:read', 'live:read', 'metrics:read']),
  panel: new Set(['site:read', 'rooms:read', 'scenes:run', 'live:read']),
};

/** P15: the roles that may see meeting titles and organizers. */
const CONFIDENTIAL: ReadonlySet<Role> = new Set(['admin', 'scheduler', 'engineer']);

/** The caller of a request, as its token says. Never holds the token itself. */
export interface Principal {
  tokenId: string;
  role: Role;
  /** Rooms the token is scoped to; null = every room. */
  rooms: readonly string[] | null;
  label?: string;
}

export function allows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

export function seesConfidential(p: Pick<Principal, 'role'>): boolean {
  return CONFIDENTIAL.has(p.role);
}

export function inScope(p: Pick<Principal, 'rooms'>, room: string): boolean {
  return p.rooms === null || p.rooms.includes(room);
}

/** The rooms of `all` a principal may see, in site order. */
export function scopedRooms<T extends { id: string }>(p: Pick<Principal, 'rooms'>, all: readonly T[]): T[] {
  return p.rooms === null ? [...all] : all.filter((r) => p.rooms!.includes(r.id));
}

/** Scope rules a token must satisfy when it is created. Returns why not, or undefined. */
export function scopeProblem(role: Role, rooms: readonly string[] | undefined): string | undefined {
  if (role === 'panel' && rooms?.length !== 1) return 'a panel token is bound to exactly one room (--rooms ROOM)';
  if (role === 'attendant' && !rooms?.length) return 'an attendant token needs the rooms it serves (--rooms A,B)';
  if (role === 'admin' && rooms?.length) return 'an admin token cannot be scoped to rooms';
  return undefined;
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}
