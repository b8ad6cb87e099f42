// Cloud-to-device queues: the hub keeps them per device on the service side, independent of MQTT
// sessions, so messages survive disconnects (and here, restarts) until completed or expired.
import { randomUUID } from 'node:crypto';
import { HubError } from './errors.js';
import { encodePropertyBag } from './property-bag.js';

export const C2D_LIMITS = Object.freeze({
  queueDepth: 50,
  messageBytes: 64 * 1024,
  defaultTtlMs: 60 * 60 * 1000,
  maxTtlMs: 2 * 24 * 60 * 60 * 1000,
});

const FEEDBACK_MODES = new Set(['none', 'positive', 'negative', 'full']);


function expiryOf(request, nowMs) {
  if (request.expiryTimeUtc !== undefined) {
    const at = Date.parse(request.expiryTimeUtc);
    if (Number.isNaN(at)) throw new HubError(400, 400004, `expiryTimeUtc ${JSON.stringify(request.expiryTimeUtc)} is not a date`);
    return at;
  }
  const ttlMs = request.ttlSeconds === undefined ? C2D_LIMITS.defaultTtlMs : Number(request.ttlSeconds) * 1000;
  if (!(ttlMs > 0 && ttlMs <= C2D_LIMITS.maxTtlMs)) throw new HubError(400, 400004, 'ttlSeconds must be positive and at most two days');
  return nowMs + ttlMs;
}

function bodyOf(request) {
  if (request.bodyBase64 !== undefined) return Buffer.from(request.bodyBase64, 'base64');
  if (typeof request.body === 'string') return Buffer.from(request.body, 'utf8');
  if (request.body === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(request.body), 'utf8');
}

export class CloudToDeviceQueues {
  #queues = new Map();
  #clock;
  #onChange;

  constructor({ clock, onChange = () => {} }) {
    this.#clock = clock;
    this.#onChange = onChange;
  }

  load(queues = {}) {
    for (const [deviceId, messages] of Object.entries(queues)) this.#queues.set(deviceId, messages);
  }

  toJSON() {
    return Object.fromEntries(this.#queues);
  }

  /**
   * Queues a message from a request `{body | bodyBase64, properties, messageId, correlationId,
   * userId, contentType, contentEncoding, ack, expiryTimeUtc | ttlSeconds}`.
   */
  enqueue(deviceId, request = {}) {
    const queue = this.pending(deviceId);
    if (queue.length >= C2D_LIMITS.queueDepth) {
      throw new HubError(403, 403004, `device ${deviceId} already has ${C2D_LIMITS.queueDepth} pending messages`);
    }
    const body = bodyOf(request);
    if (body.length > C2D_LIMITS.messageBytes) throw new HubError(413, 413001, `a C2D message may not exceed ${C2D_LIMITS.messageBytes} bytes`);
    const ack = request.ack ?? 'none';
    if (!FEEDBACK_MODES.has(ack)) throw new HubError(400, 400004, `ack must be one of ${[...FEEDBACK_MODES].join(', ')}`);
    const nowMs = this.#clock.now();
    const message = {
      lockToken: randomUUID(),
      messageId: request.messageId ?? randomUUID(),
      correlationId: request.correlationId,
      userId: request.userId,
      contentType: request.contentType,
      contentEncoding: request.contentEncoding,
      ack,
      properties: Object.fromEntries(Object.entries(request.properties ?? {}).map(([k, v]) => [k, String(v)])),
      enqueuedTimeUtc: new Date(nowMs).toISOString(),
      expiryTimeUtc: new Date(expiryOf(request, nowMs)).toISOString(),
      bodyBase64: body.toString('base64'),
    };
    queue.push(message);
    this.#queues.set(deviceId, queue);
    this.#onChange();
    return message;
  }

  /** The device's unexpired messages, oldest first; expired ones are dropped on the way. */
  pending(deviceId) {
    const queue = this.#queues.get(deviceId) ?? [];
    const nowMs = this.#clock.now();
    const live = queue.filter((message) => Date.parse(message.expiryTimeUtc) > nowMs);
    if (live.length !== queue.length) {
      this.#queues.set(deviceId, live);
      this.#onChange();
    }
    return live;
  }

  /** Removes a delivered message: over MQTT a PUBACK completes it. */
  complete(deviceId, lockToken) {
    const queue = this.#queues.get(deviceId) ?? [];
    const index = queue.findIndex((message) => message.lockToken === lockToken);
    if (index < 0) return false;
    queue.splice(index, 1);
    this.#onChange();
    return true;
  }

  purge(deviceId) {
    if (this.#queues.delete(deviceId)) this.#onChange();
  }
}

/** The PUBLISH a device receives for a queued message, property bag and all. */
export function c2dPublishPacket(deviceId, message) {
  const bag = {
    '$.mid': message.messageId,
    '$.to': `/devices/${deviceId}/messages/devicebound`,
    ...(message.correlationId !== undefined ? { '$.cid': message.correlationId } : {}),
    ...(message.userId !== undefined ? { '$.uid': message.userId } : {}),
    ...(message.contentType !== undefined ? { '$.ct': message.contentType } : {}),
    ...(message.contentEncoding !== undefined ? { '$.ce': message.contentEncoding } : {}),
    '$.exp': message.expiryTimeUtc,
    'iothub-ack': message.ack,
    ...message.properties,
  };
  return {
    cmd: 'publish',
    topic: `devices/${deviceId}/messages/devicebound/${encodePropertyBag(bag)}`,
    payload: Buffer.from(message.bodyBase64, 'base64'),
    qos: 1,
    retain: false,
  };
}
