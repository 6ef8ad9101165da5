/**
 * Counters of the simulator's network traffic. They let a test on a stepped
 * clock tell when everything a timer batch set off has been delivered
 * (harness.ts quietSettle), and the demo show how busy the building is.
 */
export class SimStats {
  /** MQTT publishes sent by simulated devices … */
  published = 0;
  /** … and of those, acknowledged by the broker (or failed). */
  publishSettled = 0;
  /** MQTT commands received (including repeats and bad ones). */
  commands = 0;
  /** Commands ignored because their cmd_id was seen before. */
  repeatedCommands = 0;
  /** Commands that were not valid for the topic. */
  badCommands = 0;
  /** Modbus frames received, frames that get no answer (offline unit), answers written. */
  framesIn = 0;
  framesUnanswered = 0;
  framesAnswered = 0;
  /** Physics ticks played. */
  ticks = 0;
  /** MQTT devices connecting (at start, or back from device_offline / device_reboot). */
  connecting = 0;
  /** Distinct topics published with retain: what a subscriber arriving late receives once each. */
  retainedTopics = 0;
  private topics = new Set<string>();

  notePublished(topic: string): void {
    this.published++;
    if (!this.topics.has(topic)) {
      this.topics.add(topic);
      this.retainedTopics = this.topics.size;
    }
  }

  /** Changes whenever anything happens on the simulator's side of a socket. */
  activity(): number {
    return this.published + this.publishSettled + this.commands + this.framesIn + this.framesAnswered;
  }

  /** Work in flight: publishes not yet acknowledged, Modbus requests not yet answered, devices still connecting. */
  pending(): number {
    return Math.max(0, this.published - this.publishSettled) + Math.max(0, this.framesIn - this.framesUnanswered - this.framesAnswered) + this.connecting;
  }

  snapshot(): Record<string, number> {
    const { topics: _, ...counters } = this;
    return counters as unknown as Record<string, number>;
  }
}
