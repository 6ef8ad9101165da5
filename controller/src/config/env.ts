import type { ConfigProblem } from './issues.ts';

/**
 * `${VAR}` (and `${VAR:-default}`) in any string of the config is replaced from the
 * environment, so secrets never have to be written into the file. `$${` is a literal
 * `${`. A missing variable is an error that names it and where it was used.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, problems: ConfigProblem[], path: (string | number)[] = []): unknown {
  // One path, grown and shrunk as the walk goes, copied only for a problem: a copy per
  // node was most of this walk's cost on a site of 10,000 rooms (bench:ingest footprint).
  const at = [...path];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return substituteString(v, env, problems, at);
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (let i = 0; i < v.length; i++) {
        at.push(i);
        out.push(walk(v[i]));
        at.pop();
      }
      return out;
    }
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        at.push(k);
        out[k] = walk((v as Record<string, unknown>)[k]);
        at.pop();
      }
      return out;
    }
    return v;
  };
  return walk(value);
}

function substituteString(s: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[], path: (string | number)[]): string {
  if (!s.includes('${')) return s;
  return s.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, name: string, fallback: string | undefined) => {
    if (whole.startsWith('$$')) return whole.slice(1);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    problems.push({ path: [...path], message: `environment variable ${name} is not set` });
    return '';
  });
}
