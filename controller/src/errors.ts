/**
 * One error class with stable codes grouped by range (zwave-js style), so logs,
 * API answers and tests can match on a code rather than on a message.
 *   1xxx configuration and device profiles
 *   2xxx MQTT and the embedded broker
 *   3xxx Modbus
 *   4xxx points and commands
 *   5xxx meetings, schedule and engine
 *   6xxx recorder, InfluxDB and reports
 */
export const ErrorCode = {
  ConfigInvalid: 1001,
  ConfigUnreadable: 1002,
  ConfigEnvMissing: 1003,
  ProfileInvalid: 1010,
  BrokerPortInUse: 2001,
  MqttNotConnected: 2002,
  MqttPayloadInvalid: 2003,
  ModbusTimeout: 3001,
  ModbusException: 3002,
  ModbusNotConnected: 3003,
  PointUnknown: 4001,
  PointNotWritable: 4002,
  PointValueInvalid: 4003,
  WriteFailed: 4004,
  MeetingInvalid: 5001,
  MeetingOverlap: 5002,
  MeetingUnknown: 5003,
  MeetingRoomUnknown: 5004,
  MeetingInPast: 5005,
  ScheduleWriteFailed: 5011,
  InfluxUnavailable: 6001,
  InfluxQueryFailed: 6002,
  ReportInvalid: 6003,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class RoomctlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RoomctlError';
  }
}

export function isRoomctlError(err: unknown, code?: ErrorCode): err is RoomctlError {
  return err instanceof RoomctlError && (code === undefined || err.code === code);
}
