// Faults the service side can inject to exercise a client's reliability paths.

export class Faults {
  #refuseUntilMs = 0;
  #withheld = new Set();
  #throttled = new Map();
  #clock;

  constructor({ clock }) {
    this.#clock = clock;
  }

  /** Every CONNECT is answered with CONNACK 3 (server unavailable) for the next `seconds`. */
  refuseConnects(seconds) {
    this.#refuseUntilMs = this.#clock.now() + seconds * 1000;
  }

  refusingConnects() {
    return this.#clock.now() < this.#refuseUntilMs;
  }

  /** Telemetry from the identity (or from everyone, key `*`) gets no PUBACK: a stuck link. */
  withholdPubacks(key = '*') {
    this.#withheld.add(key);
  }

  withholdsPubacks(key) {
    return this.#withheld.has('*') || this.#withheld.has(key);
  }

  /**
   * Telemetry PUBACKs are delayed by `delayMs`, and the connection is closed once it has been
   * throttled for `closeAfterMs`: how the hub throttles over MQTT, where it has no error to send.
   */
  throttle(key = '*', { delayMs = 1000, closeAfterMs = 10_000 } = {}) {
    this.#throttled.set(key, { delayMs, closeAfterMs });
  }

  throttling(key) {
    return this.#throttled.get(key) ?? this.#throttled.get('*') ?? null;
  }

  clear() {
    this.#refuseUntilMs = 0;
    this.#withheld.clear();
    this.#throttled.clear();
  }

  describe() {
    const now = this.#clock.now();
    return {
      refuseConnectsForSeconds: Math.max(0, (this.#refuseUntilMs - now) / 1000),
      withholdPubacks: [...this.#withheld],
      throttle: Object.fromEntries(this.#throttled),
    };
  }
}
