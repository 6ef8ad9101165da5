import { z } from 'zod';

/**
 * Home Assistant's MQTT discovery config payloads as its documentation describes them
 * (the "Configuration Variables" of each platform, full key names; the abbreviations
 * are not used by roomctl and so not accepted here):
 *   discovery topic, device, origin, availability:
 *     https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
 *   https://www.home-assistant.io/integrations/sensor.mqtt/
 *   https://www.home-assistant.io/integrations/binary_sensor.mqtt/
 *   https://www.home-assistant.io/integrations/scene.mqtt/
 *   device classes: https://www.home-assistant.io/integrations/sensor/#device-class and
 *   https://www.home-assistant.io/integrations/binary_sensor/#device-class
 * Objects are strict: a key Home Assistant does not document fails the test (Home
 * Assistant itself drops unknown keys silently, so a typo would go unnoticed there).
 * `default_entity_id` replaced `object_id` in Home Assistant 2025.10 (object_id is
 * deprecated there, and still the only one older versions know): both are accepted.
 */
const topic = z.string().min(1).regex(/^[^#+\u0000]+$/, 'a publish/subscribe topic without wildcards');
const template = z.string().min(1);
const qos = z.union([z.literal(0), z.literal(1), z.literal(2)]);
const icon = z.string().regex(/^[a-z0-9-]+:[a-z0-9-]+$/, 'an icon such as mdi:thermometer');

const device = z
  .strictObject({
    configuration_url: z.string().url().optional(),
    connections: z.array(z.tuple([z.string(), z.string()])).optional(),
    hw_version: z.string().optional(),
    identifiers: z.union([z.string(), z.array(z.string())]).optional(),
    manufacturer: z.string().optional(),
    model: z.string().optional(),
    model_id: z.string().optional(),
    name: z.string().optional(),
    serial_number: z.string().optional(),
    suggested_area: z.string().optional(),
    sw_version: z.string().optional(),
    via_device: z.string().optional(),
  })
  .refine((d) => (d.identifiers?.length ?? 0) > 0 || (d.connections?.length ?? 0) > 0, 'a device needs at least one of identifiers or connections');

const origin = z.strictObject({ name: z.string().min(1), sw_version: z.string().optional(), support_url: z.string().url().optional() });

const availabilityEntry = z.strictObject({ topic, payload_available: z.string().optional(), payload_not_available: z.string().optional(), value_template: template.optional() });

/** Keys every MQTT entity platform documents. */
const common = {
  availability: z.array(availabilityEntry).optional(),
  availability_mode: z.enum(['all', 'any', 'latest']).optional(),
  availability_template: template.optional(),
  availability_topic: topic.optional(),
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  device: device.optional(),
  origin: origin.optional(),
  enabled_by_default: z.boolean().optional(),
  encoding: z.string().optional(),
  entity_category: z.enum(['config', 'diagnostic']).optional(),
  entity_picture: z.string().url().optional(),
  icon: icon.optional(),
  json_attributes_template: template.optional(),
  json_attributes_topic: topic.optional(),
  name: z.string().nullable().optional(),
  object_id: z.string().regex(/^[a-z0-9_]+$/).optional(),
  unique_id: z.string().min(1).optional(),
  qos: qos.optional(),
  platform: z.literal('mqtt').optional(),
};

const exclusiveAvailability = (c: { availability?: unknown; availability_topic?: unknown }) => !(c.availability && c.availability_topic);
const defaultEntityId = (component: string) =>
  z
    .string()
    .regex(new RegExp(`^${component}\\.[a-z0-9_]+$`), `${component}.<object id>`)
    .optional();

export const SENSOR_DEVICE_CLASSES = [
  'apparent_power', 'aqi', 'area', 'atmospheric_pressure', 'battery', 'blood_glucose_concentration', 'carbon_dioxide', 'carbon_monoxide',
  'conductivity', 'current', 'data_rate', 'data_size', 'date', 'distance', 'duration', 'energy', 'energy_distance', 'energy_storage', 'enum',
  'frequency', 'gas', 'humidity', 'illuminance', 'irradiance', 'moisture', 'monetary', 'nitrogen_dioxide', 'nitrogen_monoxide', 'nitrous_oxide',
  'ozone', 'ph', 'pm1', 'pm10', 'pm25', 'power_factor', 'power', 'precipitation', 'precipitation_intensity', 'pressure', 'reactive_power',
  'signal_strength', 'sound_pressure', 'speed', 'sulphur_dioxide', 'temperature', 'timestamp', 'volatile_organic_compounds',
  'volatile_organic_compounds_parts', 'voltage', 'volume', 'volume_flow_rate', 'volume_storage', 'water', 'weight', 'wind_direction', 'wind_speed',
] as const;

export const BINARY_SENSOR_DEVICE_CLASSES = [
  'battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat', 'light', 'lock', 'moisture',
  'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running', 'safety', 'smoke', 'sound', 'tamper', 'update',
  'vibration', 'window',
] as const;

export const sensorConfig = z
  .strictObject({
    ...common,
    default_entity_id: defaultEntityId('sensor'),
    state_topic: topic,
    device_class: z.enum(SENSOR_DEVICE_CLASSES).nullable().optional(),
    expire_after: z.number().int().positive().optional(),
    force_update: z.boolean().optional(),
    last_reset_value_template: template.optional(),
    options: z.array(z.string()).min(1).optional(),
    suggested_display_precision: z.number().int().min(0).optional(),
    state_class: z.enum(['measurement', 'measurement_angle', 'total', 'total_increasing']).nullable().optional(),
    unit_of_measurement: z.string().nullable().optional(),
    value_template: template.optional(),
  })
  .refine(exclusiveAvailability, 'availability and availability_topic cannot be used together')
  // "temperature: Temperature in °C, °F or K"
  .refine((c) => c.device_class !== 'temperature' || ['°C', '°F', 'K'].includes(c.unit_of_measurement ?? ''), 'a temperature sensor needs a unit of °C, °F or K')
  // options: "required for an enum device class"; an enum sensor has neither unit nor state class.
  .refine((c) => (c.device_class === 'enum') === (c.options !== undefined), 'options go with device_class enum, and enum needs options')
  .refine((c) => c.device_class !== 'enum' || (c.unit_of_measurement == null && c.state_class == null), 'an enum sensor has no unit and no state class');

export const binarySensorConfig = z
  .strictObject({
    ...common,
    default_entity_id: defaultEntityId('binary_sensor'),
    state_topic: topic,
    device_class: z.enum(BINARY_SENSOR_DEVICE_CLASSES).nullable().optional(),
    expire_after: z.number().int().positive().optional(),
    force_update: z.boolean().optional(),
    off_delay: z.number().int().positive().optional(),
    payload_off: z.string().optional(),
    payload_on: z.string().optional(),
    value_template: template.optional(),
  })
  .refine(exclusiveAvailability, 'availability and availability_topic cannot be used together');

export const sceneConfig = z
  .strictObject({
    ...common,
    default_entity_id: defaultEntityId('scene'),
    command_topic: topic,
    payload_on: z.string().optional(),
    retain: z.boolean().optional(),
  })
  .refine(exclusiveAvailability, 'availability and availability_topic cannot be used together');

export const configSchemas = { sensor: sensorConfig, binary_sensor: binarySensorConfig, scene: sceneConfig } as const;

/** `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`; ids of [a-zA-Z0-9_-]. */
export const DISCOVERY_TOPIC = /^([^/#+]+)\/(sensor|binary_sensor|scene)\/(?:([a-zA-Z0-9_-]+)\/)?([a-zA-Z0-9_-]+)\/config$/;
