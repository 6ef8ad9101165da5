import { resolve, join } from 'node:path';
import { claimDemoDir, resolveDataDir } from './data-dir.ts';
import { DEMO_CONFIG } from './demo-config.ts';
import { parseTtl, TokenStore } from '../api/auth.ts';
import { isRole, ROLES, scopeProblem } from '../api/roles.ts';
import { loadConfigFile } from '../config/load.ts';
import { EXIT, table } from './api-client.ts';

/**
 * `roomctl token create|revoke|list`: works on `<data dir>/tokens.json` directly, so
 * the first admin token can be made before anything runs, and a revocation works
 * while the service is down. The data directory is the service's (data-dir.ts): --data-dir,
 * else the one of the site given by --config, else with --demo the demo's. With --config,
 * room ids are checked against the site. A running service picks the change up on its
 * next request.
 */
export interface TokenOptions {
  config?: string;
  dataDir?: string;
  demo?: boolean;
}

/** Exits 2 (usage) when it cannot tell whose tokens are meant. */
function store(o: TokenOptions): TokenStore {
  return new TokenStore(join(tokenDir(o), 'tokens.json'));
}

function tokenDir(o: TokenOptions): string {
  if (o.dataDir) return resolve(o.dataDir);
  const file = o.config ?? (o.demo ? DEMO_CONFIG : undefined);
  if (!file) throw new UsageError('roomctl token: say whose tokens: --config FILE (the site), --data-dir DIR, or --demo (npm start)');
  const site = loadConfigFile(file).site;
  if (!site) throw new UsageError(`roomctl token: ${file} does not load; run \`roomctl validate ${file}\``);
  const dir = resolveDataDir({ site, configFile: file, demo: !o.config && o.demo });
  // The demo resets its folder only when it has claimed it; a token made first must not make it refuse.
  if (!o.config && o.demo) claimDemoDir(dir);
  return dir;
}

export class UsageError extends Error {}

/** Runs a token command; a UsageError is printed and exits 2. */
export function usage(run: () => number): number {
  try {
    return run();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(err.message);
    return 2;
  }
}

export function tokenCreateCommand(o: TokenOptions & { role: string; rooms?: string; ttl?: string; label?: string }): number {
  if (!isRole(o.role)) {
    console.error(`roomctl token create: unknown role "${o.role}" (roles: ${ROLES.join(', ')})`);
    return EXIT.refused;
  }
  const rooms = o.rooms?.split(',').map((r) => r.trim()).filter(Boolean);
  const problem = scopeProblem(o.role, rooms);
  if (problem) {
    console.error(`roomctl token create: ${problem}`);
    return EXIT.refused;
  }
  if (o.config && rooms?.length) {
    const site = loadConfigFile(o.config).site;
    if (!site) {
      console.error(`roomctl token create: ${o.config} does not load; run \`roomctl validate ${o.config}\``);
      return EXIT.refused;
    }
    const unknown = rooms.filter((r) => !site.rooms.some((x) => x.id === r));
    if (unknown.length) {
      console.error(`roomctl token create: unknown room${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (rooms: ${site.rooms.map((r) => r.id).join(', ')})`);
      return EXIT.refused;
    }
  }
  let ttlMs: number | undefined;
  try {
    ttlMs = o.ttl === undefined ? undefined : parseTtl(o.ttl);
  } catch (err) {
    console.error(`roomctl token create: --ttl ${(err as Error).message}`);
    return EXIT.refused;
  }
  const s = store(o);
  const { token, info } = s.create({ role: o.role, rooms, ttlMs, label: o.label });
  console.error(`token ${info.id} created: role ${info.role}${info.rooms ? `, rooms ${info.rooms.join(', ')}` : ''}${info.expires ? `, expires ${info.expires}` : ', no expiry'} (${s.file})`);
  console.log(token);
  console.error('This is the only time the token is shown: it is stored hashed. Give it as ROOMCTL_TOKEN or "Authorization: Bearer <token>".');
  return EXIT.ok;
}

export function tokenRevokeCommand(id: string, o: TokenOptions): number {
  const info = store(o).revoke(id);
  if (!info) {
    console.error(`roomctl token revoke: unknown token "${id}" (roomctl token list shows them)`);
    return EXIT.refused;
  }
  console.log(`token ${id} revoked (${info.role}${info.rooms ? ` ${info.rooms.join(',')}` : ''})`);
  return EXIT.ok;
}

export function tokenListCommand(o: TokenOptions & { json?: boolean }): number {
  const tokens = store(o).list();
  if (o.json) console.log(JSON.stringify(tokens, null, 2));
  else if (tokens.length === 0) console.log('no tokens (roomctl token create --role admin, with the same --config, --data-dir or --demo)');
  else console.log(table(['ID', 'ROLE', 'ROOMS', 'STATE', 'CREATED', 'EXPIRES', 'LABEL'], tokens.map((t) => [t.id, t.role, t.rooms?.join(',') ?? '*', t.state, t.created.slice(0, 16), t.expires?.slice(0, 16) ?? '—', t.label ?? ''])));
  return EXIT.ok;
}
