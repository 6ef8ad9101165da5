import { z } from 'zod';
import { readJsonWithBackup, writeJsonAtomic } from './atomic-file.ts';
import { MEETING_LEVELS, type Meeting } from '../../model/meetings.ts';

/**
 * The schedule's file: `{ version: 1, meetings: [...] }`, each meeting with the names of
 * the timeline steps already carried out (so a restart resumes, never repeats). Written
 * atomically with the previous good copy kept (atomic-file.ts). Each entry is validated
 * on its own: one damaged entry is reported with its index and skipped, not the file.
 */
const FILE_VERSION = 1;

const storedMeeting = z.object({
  id: z.string().min(1),
  room: z.string().min(1),
  start: z.number(),
  end: z.number(),
  level: z.enum(MEETING_LEVELS),
  attendees: z.number().int().min(0),
  title: z.string().optional(),
  organizer: z.string().optional(),
  status: z.enum(['scheduled', 'cancelled']),
  plannedAt: z.number(),
  updatedAt: z.number(),
  stepsDone: z.array(z.string()).default([]),
});
const storedFile = z.object({ version: z.literal(FILE_VERSION), meetings: z.array(z.unknown()) });

export interface StoredMeeting {
  meeting: Meeting;
  stepsDone: string[];
  /** Position in the file, for reports. */
  index: number;
}

export interface ScheduleFileRead {
  entries: StoredMeeting[];
  source: 'file' | 'backup' | 'none';
  /** File-level problems (corrupt, truncated, used the backup). */
  problems: string[];
  /** Entries that failed validation, each `meetings[i]: field: why`. */
  invalid: string[];
}

export function readScheduleFile(file: string, now: () => number): ScheduleFileRead {
  const read = readJsonWithBackup(file, parseStoredFile, now);
  const out: ScheduleFileRead = { entries: [], source: read.source, problems: read.problems, invalid: [] };
  (read.value?.meetings ?? []).forEach((raw, index) => {
    const parsed = storedMeeting.safeParse(raw);
    if (!parsed.success) {
      out.invalid.push(`meetings[${index}]: ${parsed.error.issues.map((x) => `${x.path.join('.') || '(entry)'}: ${x.message}`).join('; ')}`);
      return;
    }
    const { stepsDone, ...meeting } = parsed.data;
    out.entries.push({ meeting: meeting as Meeting, stepsDone, index });
  });
  return out;
}

export function writeScheduleFile(file: string, meetings: Iterable<Meeting>, stepsDone: (id: string) => Iterable<string>): void {
  const list = [...meetings].map((m) => ({ ...m, stepsDone: [...stepsDone(m.id)] }));
  writeJsonAtomic(file, { version: FILE_VERSION, meetings: list });
}

function parseStoredFile(json: unknown): z.infer<typeof storedFile> {
  const r = storedFile.safeParse(json);
  if (r.success) return r.data;
  throw new Error(`not a roomctl schedule file (version ${FILE_VERSION}): ${r.error.issues.map((x) => `${x.path.join('.') || '(top level)'}: ${x.message}`).join('; ')}`);
}
