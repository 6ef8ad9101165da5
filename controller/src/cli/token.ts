import { resolve, join } from 'node:path';
import { parseTtl, TokenStore } from '../api/auth.ts';
import { isRole, ROLES, scopeProblem } from '../api/roles.ts';
import { loadConfigFile } from '../config/load.ts';
import { EXIT, table } from './api-client.ts';

/**
 * `roomctl token create|revoke|list`: works on `<data dir>/tokens.json` directly, so
 * the first admin token can be made before anything runs, and a revocation works
 * while the service is down. The data directory is the service's: `.roomctl/` under
 * the working directory, or --data-dir. With --config, room ids are checked against
 * the site. A running service picks the change up on its next request.
 */
export interface TokenOptions {
  config?: string;
  dataDir?: string;
}

const store = (o: TokenOptions) => new TokenStore(join(resolve(o.dataDir ?? '.roomctl'), 'tokens.json'));

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
  else if (tokens.length === 0) console.log('no tokens (roomctl token create --role admin)');
  else console.log(table(['ID', 'ROLE', 'ROOMS', 'STATE', 'CREATED', 'EXPIRES', 'LABEL'], tokens.map((t) => [t.id, t.role, t.rooms?.join(',') ?? '*', t.state, t.created.slice(0, 16), t.expires?.slice(0, 16) ?? '—', t.label ?? ''])));
  return EXIT.ok;
}
