import type { CommandRecord, DeviceHealth, PayloadRejection, PointUpdate } from './points.ts';
import type { ActivityEvent, AlertEvent, CheckOutcome, MeetingVerdict } from './events.ts';

/** Every event that crosses a feature boundary, with its payload type. */
export interface BusEvents {
  point: PointUpdate;
  device: DeviceHealth;
  command: CommandRecord;
  'payload-rejected': PayloadRejection;
  'mqtt-connection': { connected: boolean; reconnects: number; ts: number };
  check: CheckOutcome;
  verdict: MeetingVerdict;
  alert: AlertEvent;
  activity: ActivityEvent;
  /** A room's readiness changed (a check, a verdict, a phase): the retained readiness topic is republished. */
  readiness: { room: string; ts: number };
  /** A room entered another phase (preparing, ready, in_session, closing, closed…). */
  phase: { room: string; phase: string; meetingId?: string; ts: number };
}

type Listener<T> = (event: T) => void;

/**
 * A typed event bus. Each listener runs inside try/catch (zigbee2mqtt style): a
 * failing feature is logged and must never stop the others from hearing the event.
 */
export class EventBus {
  private listeners = new Map<keyof BusEvents, Set<Listener<never>>>();

  constructor(private onListenerError: (event: string, err: unknown) => void = () => {}) {}

  on<K extends keyof BusEvents>(event: K, fn: Listener<BusEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => set.delete(fn as Listener<never>);
  }

  emit<K extends keyof BusEvents>(event: K, payload: BusEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of set) {
      try {
        (fn as Listener<BusEvents[K]>)(payload);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }

  listenerCount(event: keyof BusEvents): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
