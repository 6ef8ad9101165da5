/**
 * Work of the recorder's flush tick that grows with the building — a sample for every
 * flat point, closing the 5-minute window of every point — done in slices, each its
 * own turn of the event loop, so the recorder never holds the loop for long: at 80,000
 * points, one tick's samples or means were over 100 ms of encoding in one go, and
 * every MQTT message, panel press and HTTP request waited behind it.
 *
 * A job is a generator that yields what its steps cost (1 ≈ looking at a point, ~20 ≈
 * writing a row); a slice ends once it has spent SLICE_BUDGET (about 1–2 ms of warm
 * code) or SLICE_MS of wall time, whichever comes first (code the JIT has not compiled
 * yet, a busy machine). A small job (a few thousand points) runs to its end at once,
 * as before; the first slice of any job runs at once too. drain() finishes every job
 * now (flush, stop). Where a slice ends never changes what is written (recorder.ts).
 */
export type Job = Iterator<number, void>;

export const SLICE_BUDGET = 20_000;
export const SLICE_MS = 2;
/** Steps (each up to 32 points or series) between two looks at the clock. */
const CLOCK_EVERY = 4;

export class Slices {
  private jobs: Job[] = [];
  private next?: NodeJS.Immediate;

  /** `onError`: a job that throws is dropped and reported (never an uncaught exception from a later turn). */
  constructor(
    private onError: (err: unknown) => void,
    private budget = SLICE_BUDGET,
  ) {}

  /** Runs `job` now as far as one slice goes (after any job still waiting), the rest in later turns. */
  run(job: Job): void {
    this.jobs.push(job);
    if (this.jobs.length === 1 && !this.next) this.slice();
  }

  /** True while a job waits for its next slice. */
  get busy(): boolean {
    return this.jobs.length > 0;
  }

  /** Finishes every job now. */
  drain(): void {
    if (this.next) clearImmediate(this.next);
    this.next = undefined;
    while (this.jobs.length > 0) {
      const job = this.jobs[0]!;
      while (!this.step(job).done);
      this.jobs.shift();
    }
  }

  private step(job: Job): IteratorResult<number, void> {
    try {
      return job.next();
    } catch (err) {
      this.onError(err);
      return { done: true, value: undefined };
    }
  }

  private slice(): void {
    const start = performance.now();
    let spent = 0;
    let steps = 0;
    while (this.jobs.length > 0) {
      const step = this.step(this.jobs[0]!);
      if (step.done) {
        this.jobs.shift();
        continue;
      }
      spent += step.value;
      const over = spent >= this.budget || (++steps % CLOCK_EVERY === 0 && performance.now() - start >= SLICE_MS);
      if (over && this.jobs.length > 0) {
        this.next = setImmediate(() => {
          this.next = undefined;
          this.slice();
        });
        return;
      }
    }
  }
}
