// Registry, twins and pending C2D messages live in one JSON file in the data directory. Saves are
// coalesced to one write per event-loop turn and replace the file atomically, so a killed emulator
// leaves either the old or the new state, never half of one.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export class StateFile {
  #path;
  #snapshot;
  #pending = null;

  /** `snapshot()` returns the whole state to persist. */
  constructor(path, snapshot) {
    this.#path = path;
    this.#snapshot = snapshot;
  }

  load() {
    return existsSync(this.#path) ? JSON.parse(readFileSync(this.#path, 'utf8')) : {};
  }

  scheduleSave() {
    this.#pending ??= setImmediate(() => this.flush());
  }

  flush() {
    clearImmediate(this.#pending);
    this.#pending = null;
    const temporary = `${this.#path}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.#snapshot()));
    renameSync(temporary, this.#path);
  }
}
