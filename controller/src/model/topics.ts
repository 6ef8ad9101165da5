/**
 * Every MQTT topic roomctl itself publishes or listens on, spelled once (DESIGN.md,
 * "Interfaces"). `sp` is the site prefix `<topic_prefix>/<site>`. Device topics come
 * from the device profiles, not from here.
 */
export const topics = {
  /** online/offline, retained, the last will. */
  status: (sp: string) => `${sp}/status`,
  /** Every alert raised or cleared (QoS 1, not retained). */
  alerts: (sp: string) => `${sp}/alerts`,
  /** A room's points with value, quality and time (retained). */
  roomState: (sp: string, room: string) => `${sp}/rooms/${room}/state`,
  /** A room's readiness and last verdict (retained). */
  roomReadiness: (sp: string, room: string) => `${sp}/rooms/${room}/readiness`,
  /** The last scene applied and its result (retained). */
  roomScene: (sp: string, room: string) => `${sp}/rooms/${room}/scene`,
  /** In: a wall keypad (or Home Assistant) asks for a scene. */
  roomSceneSet: (sp: string, room: string) => `${sp}/rooms/${room}/scene/set`,
  /** The subscription for every room's scene/set. */
  sceneSetFilter: (sp: string) => `${sp}/rooms/+/scene/set`,
  /** The room of a scene/set topic, or undefined if it is not one. */
  roomOfSceneSet: (sp: string, topic: string): string | undefined => {
    const head = `${sp}/rooms/`;
    const tail = '/scene/set';
    if (!topic.startsWith(head) || !topic.endsWith(tail)) return undefined;
    const room = topic.slice(head.length, -tail.length);
    return room && !room.includes('/') ? room : undefined;
  },
} as const;
