import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { z } from 'zod';
import { readJsonWithBackup, writeJsonAtomic } from '../engine/timeline/atomic-file.ts';
import { silentLogger, type Logger } from '../log.ts';
import { isRole, ROLES, scopeProblem, type Principal, type Role } from './roles.ts';

/**
 * API tokens, stored hashed in `<dataDir>/tokens.json` (atomic writes, previous good
 * copy kept as .bak — engine/atomic-file.ts).
 *
 * A token reads `rct_<id>_<secret>`: the id (10 hex digits) is public — it names the
 * token in `token list`, in the audit log and in `token revoke` — and the secret is 32
 * random bytes (256 bits). Only sha256(secret) is stored. Why not scrypt: a slow hash
 * protects guessable secrets (passwords); a 256-bit random secret cannot be guessed
 * from its hash either way, and a slow hash on every request would make each API call
 * cost tens of milliseconds of CPU — a denial of service handed to anyone with a bad
 * token. The comparison is constant-time.
 *
 * The server re-reads the file when it changes on disk (`roomctl token create/revoke`
 * work offline on the same file while the service runs), so a revocation takes effect
 * on the next request. Expiry is wall-clock time, whatever clock the engine runs on.
 */
export interface TokenRecord {
  id: string;
  role: Role;
  /** Rooms the token is scoped to; absent = every room. */
  rooms?: string[];
  label?: string;
  /** `sha256:<hex>` of the secret part. */
  hash: string;
  created: string;
  expires?: string;
  revoked?: string;
}

/** What `token list` and the API show: never the hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'> & { state: 'active' | 'expired' | 'revoked' };

export type Verification = { ok: true; principal: Principal } | { ok: false; reason: 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired' };

const recordSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{10}$/),
  role: z.enum(ROLES),
  rooms: z.array(z.string()).optional(),
  label: z.string().optional(),
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  created: z.string(),
  expires: z.string().optional(),
  revoked: z.string().optional(),
});
const fileSchema = z.object({ version: z.literal(1), tokens: z.array(recordSchema) });

const TOKEN_RE = /^rct_([0-9a-f]{10})_([A-Za-z0-9_-]{43})$/;

export interface CreateTokenInput {
  role: Role;
  rooms?: string[];
  /** Lifetime in ms; absent = no expiry. */
  ttlMs?: number;
  label?: string;
}

export class TokenStore {
  private records = new Map<string, TokenRecord>();
  private seen?: string;
  private log: Logger;

  constructor(
    readonly file: string,
    private options: { now?: () => number; logger?: Logger } = {},
  ) {
    this.log = options.logger ?? silentLogger;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Reads the file if it changed since the last read (cheap: one stat). Problems are logged, the last good set kept. */
  refresh(): void {
    let signature: string;
    try {
      const st = statSync(this.file);
      signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      signature = 'absent';
    }
    if (signature === this.seen) return;
    this.seen = signature;
    if (signature === 'absent') {
      this.records.clear();
      return;
    }
    const read = readJsonWithBackup(this.file, (json) => fileSchema.parse(json));
    for (const p of read.problems) this.log.warn({ file: this.file }, `tokens: ${p}`);
    if (read.value) this.records = new Map(read.value.tokens.map((t) => [t.id, t as TokenRecord]));
  }

  verify(token: string | undefined): Verification {
    if (!token) return { ok: false, reason: 'missing' };
    const m = TOKEN_RE.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    this.refresh();
    const rec = this.records.get(m[1]!);
    // The hash is compared even for an unknown id, so timing says nothing about which ids exist.
    const expected = Buffer.from((rec?.hash ?? `sha256:${'0'.repeat(64)}`).slice(7), 'hex');
    const match = timingSafeEqual(expected, digest(m[2]!));
    if (!rec || !match) return { ok: false, reason: 'unknown' };
    if (rec.revoked) return { ok: false, reason: 'revoked' };
    if (rec.expires && Date.parse(rec.expires) <= this.now()) return { ok: false, reason: 'expired' };
    const principal: Principal = { tokenId: rec.id, role: rec.role, rooms: rec.rooms?.length ? [...rec.rooms] : null };
    if (rec.label) principal.label = rec.label;
    return { ok: true, principal };
  }

  /** Creates a token; the only time its secret exists is in the returned string. */
  create(input: CreateTokenInput): { token: string; info: TokenInfo } {
    if (!isRole(input.role)) throw new Error(`unknown role "${String(input.role)}" (roles: ${ROLES.join(', ')})`);
    const problem = scopeProblem(input.role, input.rooms);
    if (problem) throw new Error(problem);
    this.refreshForWrite();
    let id: string;
    do id = randomBytes(5).toString('hex');
    while (this.records.has(id));
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const rec: TokenRecord = { id, role: input.role, hash: `sha256:${digest(secret).toString('hex')}`, created: new Date(now).toISOString() };
    if (input.rooms?.length) rec.rooms = [...new Set(input.rooms)];
    if (input.label) rec.label = input.label;
    if (input.ttlMs !== undefined) rec.expires = new Date(now + input.ttlMs).toISOString();
    this.records.set(id, rec);
    this.save();
    return { token: `rct_${id}_${secret}`, info: this.info(rec) };
  }

  /** Revokes a token by id; the record stays (marked) so the audit log can still name it. */
  revoke(id: string): TokenInfo | undefined {
    this.refreshForWrite();
    const rec = this.records.get(id);
    if (!rec) return undefined;
    if (!rec.revoked) {
      rec.revoked = new Date(this.now()).toISOString();
      this.save();
    }
    return this.info(rec);
  }

  list(): TokenInfo[] {
    this.refresh();
    return [...this.records.values()].sort((a, b) => a.created.localeCompare(b.created)).map((r) => this.info(r));
  }

  /** Tokens that would be accepted now. */
  activeCount(): number {
    return this.list().filter((t) => t.state === 'active').length;
  }

  private info(rec: TokenRecord): TokenInfo {
    const { hash: _hash, ...rest } = rec;
    const state = rec.revoked ? 'revoked' : rec.expires && Date.parse(rec.expires) <= this.now() ? 'expired' : 'active';
    return { ...rest, ...(rec.rooms ? { rooms: [...rec.rooms] } : {}), state };
  }

  /** Read-modify-write: the file may have been changed by the CLI since our last look. */
  private refreshForWrite(): void {
    this.seen = undefined;
    this.refresh();
  }

  private save(): void {
    writeJsonAtomic(this.file, { version: 1, tokens: [...this.records.values()] });
    this.seen = undefined;
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** `90s`, `30m`, `24h`, `7d`, `2w` → milliseconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  const units = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000, w: 604_800_000 } as const;
  if (!m) throw new Error(`not a duration: "${text}" (e.g. 30m, 24h, 7d)`);
  const ms = Number(m[1]) * units[m[2] as keyof typeof units];
  if (!(ms >= 1000) || ms > 10 * 365 * 86_400_000) throw new Error(`duration out of range: "${text}" (1s to 10 years)`);
  return Math.round(ms);
}

/** The bearer token of an Authorization header value, if it is one. */
export function bearer(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
