// Device-to-cloud messages as the service side sees them: decoded property bags with hub-stamped
// system properties, kept in arrival order for reading back and for live followers.
import { decodePropertyBag, splitSystemProperties } from './property-bag.js';

const TELEMETRY_CAPACITY = 100_000;

// Wire keys mapped to the names the hub's service-facing endpoints use.
const SYSTEM_PROPERTY_NAMES = {
  '$.mid': 'message-id',
  '$.cid': 'correlation-id',
  '$.ct': 'content-type',
  '$.ce': 'content-encoding',
  '$.ctime': 'iothub-creation-time-utc',
  '$.uid': 'user-id',
  '$.to': 'to',
  '$.exp': 'absolute-expiry-time',
  '$.sub': 'dt-subject',
  '$.ifid': 'iothub-interface-id',
  '$.on': 'output-name',
  '$.schema': 'message-schema',
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function describeBody(payload) {
  try {
    return { body: strictUtf8.decode(payload) };
  } catch {
    return { bodyBase64: payload.toString('base64') };
  }
}

/**
 * Builds the stored form of a telemetry PUBLISH. `bag` is the raw property bag from the topic,
 * `extraProperties` are application properties the hub adds itself (retain flag, Will marker).
 * Throws when the bag is not valid percent-encoding.
 */
export function decodeTelemetry({ identity, bag, payload, enqueuedTime, extraProperties = {} }) {
  const { system, application } = splitSystemProperties(decodePropertyBag(bag));
  const systemProperties = {};
  for (const [wireKey, value] of Object.entries(system)) systemProperties[SYSTEM_PROPERTY_NAMES[wireKey] ?? wireKey] = value;
  Object.assign(systemProperties, {
    'iothub-connection-device-id': identity.deviceId,
    ...(identity.moduleId ? { 'iothub-connection-module-id': identity.moduleId } : {}),
    'iothub-connection-auth-method': JSON.stringify({ scope: 'device', type: identity.authentication.type, issuer: 'iothub' }),
    'iothub-connection-auth-generation-id': identity.generationId,
    'iothub-enqueuedtime': enqueuedTime,
  });
  return {
    device: identity.deviceId,
    ...(identity.moduleId ? { module: identity.moduleId } : {}),
    enqueuedTime,
    ...describeBody(payload),
    systemProperties,
    properties: { ...application, ...extraProperties },
  };
}

/** An in-memory log of the most recent messages with sequence numbers for resuming readers. */
export class TelemetryLog {
  #entries = [];
  #nextSeq = 1;
  #followers = new Set();
  #capacity;

  constructor({ capacity = TELEMETRY_CAPACITY } = {}) {
    this.#capacity = capacity;
  }

  append(message) {
    const entry = { seq: this.#nextSeq++, ...message };
    this.#entries.push(entry);
    // Trimming in batches keeps appends amortised O(1) instead of shifting on every message.
    if (this.#entries.length > this.#capacity * 1.1) this.#entries.splice(0, this.#entries.length - this.#capacity);
    for (const follower of this.#followers) follower(entry);
    return entry;
  }

  /** Held messages with `seq > afterSeq`, optionally for one device, oldest first. */
  read({ deviceId = null, afterSeq = 0, limit = Infinity } = {}) {
    const result = [];
    const start = Math.max(0, this.#entries.length - this.#capacity);
    for (let i = start; i < this.#entries.length && result.length < limit; i++) {
      const entry = this.#entries[i];
      if (entry.seq > afterSeq && (deviceId === null || entry.device === deviceId)) result.push(entry);
    }
    return result;
  }

  /** Calls `listener(entry)` for every new message until the returned function is called. */
  follow(listener) {
    this.#followers.add(listener);
    return () => this.#followers.delete(listener);
  }
}
