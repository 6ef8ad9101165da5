import { loadConfigFile } from '../config/load.ts';
import { isRoomctlError } from '../errors.ts';
import { buildReport, formatReport } from '../recorder/report.ts';

/** `roomctl report [--day D | --month M] [--json]`: the readiness report (P4 daily, P9 monthly) from InfluxDB. */
export async function reportCommand(opts: { config: string; day?: string; month?: string; json?: boolean }): Promise<number> {
  const loaded = loadConfigFile(opts.config);
  if (!loaded.site) {
    for (const e of loaded.errors) console.error(e);
    return 1;
  }
  const site = loaded.site.config.site;
  try {
    const report = await buildReport(loaded.site.config.influx, { day: opts.day, month: opts.month, timezone: site.timezone, site: site.id });
    console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  } catch (err) {
    if (!isRoomctlError(err)) throw err;
    console.error(`roomctl report: ${err.message}`);
    return 1;
  }
}
