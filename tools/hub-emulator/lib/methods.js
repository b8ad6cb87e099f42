// Direct methods: the service side's call goes to one identity's connection and waits for the
// response carrying the same request id, or times out as the hub does.
import { HubError } from './errors.js';
import { METHODS_FILTER } from './topics.js';


export const METHOD_LIMITS = Object.freeze({ minTimeoutSeconds: 5, maxTimeoutSeconds: 300, defaultTimeoutSeconds: 30, payloadBytes: 128 * 1024 });

function checkRequest({ methodName, responseTimeoutInSeconds = METHOD_LIMITS.defaultTimeoutSeconds }) {
  if (typeof methodName !== 'string' || !/^[^/#+?]{1,100}$/.test(methodName)) {
    throw new HubError(400, 400004, 'methodName must be a non-empty string without / # + ?');
  }
  const timeout = Number(responseTimeoutInSeconds);
  if (!(timeout >= METHOD_LIMITS.minTimeoutSeconds && timeout <= METHOD_LIMITS.maxTimeoutSeconds)) {
    throw new HubError(400, 400004, `responseTimeoutInSeconds must be between ${METHOD_LIMITS.minTimeoutSeconds} and ${METHOD_LIMITS.maxTimeoutSeconds}`);
  }
  return timeout * 1000;
}

export class MethodInvoker {
  #pending = new Map();
  #nextRid = 1;
  #connections;

  constructor({ connections }) {
    this.#connections = connections;
  }

  /** Resolves to `{status, payload}` as the device answered; rejects with a HubError otherwise. */
  async invoke(key, request) {
    const timeoutMs = checkRequest(request);
    const payload = Buffer.from(JSON.stringify(request.payload ?? null));
    if (payload.length > METHOD_LIMITS.payloadBytes) throw new HubError(413, 413001, 'method payload exceeds 128 KB');
    const connection = this.#connections.get(key);
    if (!connection || !connection.isSubscribed(METHODS_FILTER)) {
      throw new HubError(404, 404103, `${key} is not connected or not subscribed to direct methods`);
    }
    const rid = (this.#nextRid++).toString(16);
    const answered = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(new HubError(504, 504101, `${key} did not answer ${request.methodName} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#pending.set(rid, { key, resolve, reject, timer });
    });
    await connection.send({ cmd: 'publish', topic: `$iothub/methods/POST/${request.methodName}/?$rid=${rid}`, payload, qos: 0, retain: false });
    return answered;
  }

  /** Takes a device's `$iothub/methods/res/{status}/?$rid=…`; answers for other identities' calls are ignored. */
  handleResponse(key, rid, status, body) {
    const call = this.#pending.get(rid);
    if (!call || call.key !== key) return;
    this.#pending.delete(rid);
    clearTimeout(call.timer);
    const text = body.toString('utf8');
    if (text.trim() === '') {
      call.resolve({ status, payload: null });
      return;
    }
    try {
      call.resolve({ status, payload: JSON.parse(text) });
    } catch {
      call.reject(new HubError(502, 502101, 'the device answered with a payload that is not JSON'));
    }
  }

  cancelAll() {
    for (const call of this.#pending.values()) {
      clearTimeout(call.timer);
      call.reject(new HubError(503, 503000, 'the emulator is shutting down'));
    }
    this.#pending.clear();
  }
}
