import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Concise structured logs (pino). On a terminal they are printed as one readable
 * line each; piped, they stay JSON for log shippers. P15: never pass a meeting
 * title or organizer to a logger.
 */
export function createLogger(level: string = 'info', destination?: NodeJS.WritableStream): Logger {
  if (destination) return pino({ level, base: undefined }, destination as pino.DestinationStream);
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything, for tests and benches that measure throughput. */
export const silentLogger: Logger = pino({ level: 'silent' });
