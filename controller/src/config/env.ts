import type { ConfigProblem } from './issues.ts';

/**
 * `${VAR}` (and `${VAR:-default}`) in any string of the config is replaced from the
 * environment, so secrets never have to be written into the file. `$${` is a literal
 * `${`. A missing variable is an error that names it and where it was used.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, problems: ConfigProblem[], path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return substituteString(value, env, problems, path);
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, problems, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

function substituteString(s: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[], path: (string | number)[]): string {
  return s.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (whole, name: string, fallback: string | undefined) => {
    if (whole.startsWith('$$')) return whole.slice(1);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    problems.push({ path, message: `environment variable ${name} is not set` });
    return '';
  });
}
