// Per-identity connection statistics, for tests that check how a client paces its connects and
// whether it stops retrying with bad credentials.

const MAX_ATTEMPTS_KEPT = 1000;

export class ConnectStats {
  #byKey = new Map();

  #entry(key) {
    let entry = this.#byKey.get(key);
    if (!entry) {
      entry = { connectAttempts: 0, accepted: 0, refused: 0, scopeViolations: 0, attempts: [] };
      this.#byKey.set(key, entry);
    }
    return entry;
  }

  /** Records a CONNECT; `refusal` is null when it was accepted, else the reason. */
  recordAttempt(key, timeMs, refusal) {
    const entry = this.#entry(key);
    entry.connectAttempts += 1;
    if (refusal) entry.refused += 1;
    else entry.accepted += 1;
    entry.attempts.push({ time: new Date(timeMs).toISOString(), accepted: !refusal, ...(refusal ? { reason: refusal } : {}) });
    if (entry.attempts.length > MAX_ATTEMPTS_KEPT) entry.attempts.shift();
  }

  recordScopeViolation(key) {
    this.#entry(key).scopeViolations += 1;
  }

  get(key) {
    return this.#entry(key);
  }

  reset(key) {
    this.#byKey.delete(key);
  }
}
