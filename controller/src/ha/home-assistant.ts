import type { Site } from '../config/load.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Publisher } from '../model/state-publisher.ts';
import { nodeId, roomDiscovery, type DiscoveryMessage } from './discovery.ts';

/**
 * Home Assistant MQTT discovery (issue 7), off unless `home_assistant.enabled`.
 *
 * On start every room's config messages (discovery.ts) go out retained, QoS 1, so Home
 * Assistant finds them whenever it (re)connects. Home Assistant announces its own
 * restarts with `online` on `<discovery_prefix>/status` (its birth message): the configs
 * are then sent again, as its documentation asks of discovery publishers, in case the
 * retained copies were lost with a broker that keeps nothing.
 *
 * Entities of rooms (or scenes, or temperature points) no longer configured are
 * removed: roomctl listens to its own node's retained configs, and any it did not just
 * publish is cleared with an empty retained payload — which Home Assistant takes as
 * "delete this entity".
 * Scene presses need nothing here: the scene entities publish on the keypad topic,
 * which the keypad listener (api/keypad.ts) serves.
 */
export interface HomeAssistantOptions {
  site: Site;
  mqtt: Publisher & { subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): () => void };
  sitePrefix: string;
  logger?: Logger;
  swVersion?: string;
}

export class HomeAssistantDiscovery {
  readonly name = 'home assistant discovery';
  readonly counts = { published: 0, removed: 0, republished: 0 };
  private messages: DiscoveryMessage[] = [];
  private topics = new Set<string>();
  private removed = new Set<string>();
  private unsubscribe: (() => void)[] = [];
  private log: Logger;

  constructor(private options: HomeAssistantOptions) {
    this.log = (options.logger ?? silentLogger).child({ part: 'home-assistant' });
  }

  get enabled(): boolean {
    return this.options.site.config.home_assistant.enabled;
  }

  /** Every config message this site publishes (empty when disabled). */
  discovery(): DiscoveryMessage[] {
    const { site, sitePrefix, swVersion } = this.options;
    const ha = site.config.home_assistant;
    const ctx = { discoveryPrefix: ha.discovery_prefix, sitePrefix, siteId: site.config.site.id, siteName: site.config.site.name, language: site.config.site.language, swVersion };
    return site.rooms.flatMap((room) => roomDiscovery(room, ctx));
  }

  async start(): Promise<void> {
    if (!this.enabled) return;
    const prefix = this.options.site.config.home_assistant.discovery_prefix;
    this.messages = this.discovery();
    this.topics = new Set(this.messages.map((m) => m.topic));
    await this.publishAll();
    this.log.info({ rooms: this.options.site.rooms.length, entities: this.messages.length, prefix }, 'Home Assistant discovery published');
    const { mqtt } = this.options;
    this.unsubscribe.push(
      mqtt.subscribe(`${prefix}/status`, (_topic, payload) => {
        if (payload.toString('utf8').trim() !== 'online') return;
        this.counts.republished++;
        void this.publishAll();
      }),
    );
    this.unsubscribe.push(mqtt.subscribe(`${prefix}/+/${nodeId(this.options.site.config.site.id)}/+/config`, (topic, payload) => this.seen(topic, payload)));
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  private async publishAll(): Promise<void> {
    const results = await Promise.allSettled(this.messages.map((m) => this.options.mqtt.publish(m.topic, JSON.stringify(m.payload), { retain: true, qos: 1 })));
    const failed = results.filter((r) => r.status === 'rejected').length;
    this.counts.published += results.length - failed;
    if (failed > 0) this.log.warn({ failed }, 'some Home Assistant discovery configs were not published; they go out again when Home Assistant restarts');
  }

  /** A retained config of our node that this configuration no longer has: removed (empty retained payload). */
  private seen(topic: string, payload: Buffer): void {
    if (payload.length === 0 || this.topics.has(topic) || this.removed.has(topic)) return;
    this.removed.add(topic);
    this.counts.removed++;
    this.log.info({ topic }, 'removing a Home Assistant entity that is no longer configured');
    this.options.mqtt.publish(topic, '', { retain: true, qos: 1 }).catch((err: Error) => this.log.warn({ topic, err: err.message }, 'could not remove a stale Home Assistant entity'));
  }
}
