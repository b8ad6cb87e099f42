// One live MQTT connection per identity, with the send discipline aedes needs.

const MAX_TIMER_MS = 2 ** 31 - 1;

export class DeviceConnection {
  /** Lock tokens of C2D messages written to this connection and not yet acknowledged, in send order. */
  c2dInFlight = [];
  /** Set once a throttle fault has scheduled this connection's close. */
  throttleArmed = false;
  #chain = Promise.resolve();
  #timers = new Set();

  constructor({ client, identity, key, serial }) {
    this.client = client;
    this.identity = identity;
    this.key = key;
    this.serial = serial;
  }

  /**
   * Writes a PUBLISH to this connection only. Sends are chained: with persistent sessions aedes
   * queues a QoS 1 send a tick later than a QoS 0 one, and its duplicate filter then silently drops
   * the QoS 1 message, so a send starts only after the previous one was written.
   */
  send(packet) {
    const sent = this.#chain.then(() => new Promise((resolve) => this.client.publish(packet, resolve)));
    this.#chain = sent;
    return sent;
  }

  subscriptions() {
    return Object.keys(this.client.subscriptions ?? {});
  }

  isSubscribed(filter) {
    return Boolean(this.client.subscriptions?.[filter]);
  }

  /** Runs `action` after `delayMs` unless the connection ends first. */
  schedule(delayMs, action) {
    // setTimeout fires at once for delays beyond 2^31-1 ms (~24.8 days), which a long-lived SAS
    // token's expiry can exceed; such waits are taken in steps.
    const step = Math.min(delayMs, MAX_TIMER_MS);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (delayMs > step) this.schedule(delayMs - step, action);
      else action();
    }, step);
    this.#timers.add(timer);
  }

  /** Called once the connection has ended. */
  dispose() {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.c2dInFlight = [];
  }

  close() {
    this.client.close();
  }
}

export class ConnectionTable {
  #byKey = new Map();

  add(connection) {
    this.#byKey.set(connection.key, connection);
  }

  /** Forgets the connection unless a newer one for the same identity already replaced it. */
  remove(connection) {
    if (this.#byKey.get(connection.key) === connection) this.#byKey.delete(connection.key);
  }

  get(key) {
    return this.#byKey.get(key);
  }

  all() {
    return [...this.#byKey.values()];
  }
}
