/** A positive whole-number bench option: `--name N` on the command line, else `$ENV`, else the default. */
export function option(name: string, env: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : process.env[env];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} / ${env} must be a positive whole number, got ${raw}`);
  return n;
}
