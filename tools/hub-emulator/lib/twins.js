// Twin documents: desired and reported sections with their own `$version`s, merged the way the hub
// merges patches (members replace, null deletes, objects merge recursively), within the hub's limits.

import { HubError } from './errors.js';
import { keyOf } from './registry.js';

export const TWIN_LIMITS = Object.freeze({
  sectionBytes: 32 * 1024,
  tagsBytes: 8 * 1024,
  valueBytes: 4 * 1024,
  nameBytes: 1024,
  depth: 10,
  maxSafeInteger: 2 ** 52,
});


// The hub documents limit violations on `$iothub/twin/res/{status}` as 400 (bad request), and so
// they are reported here, with the generic ArgumentInvalid code.
const invalid = (message) => new HubError(400, 400004, message);

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

// Keys the service side may echo back from a twin it read; they are bookkeeping, not properties.
const BOOKKEEPING = new Set(['$version', '$metadata']);

function checkValue(value, path, depth) {
  if (depth > TWIN_LIMITS.depth) throw invalid(`${path} is nested deeper than ${TWIN_LIMITS.depth} levels`);
  if (typeof value === 'string' && Buffer.byteLength(value) > TWIN_LIMITS.valueBytes) {
    throw invalid(`${path} is longer than ${TWIN_LIMITS.valueBytes} bytes`);
  }
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > TWIN_LIMITS.maxSafeInteger) {
    throw invalid(`${path} is outside the range of twin integers`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (item === null) throw invalid(`${path}[${i}] is null; arrays may not contain null`);
      checkValue(item, `${path}[${i}]`, depth + 1);
    });
  } else if (isObject(value)) {
    checkPatch(value, path, depth + 1);
  }
}

function checkPatch(patch, path, depth) {
  for (const [name, value] of Object.entries(patch)) {
    if (depth === 1 && BOOKKEEPING.has(name)) continue;
    if (!name || Buffer.byteLength(name) > TWIN_LIMITS.nameBytes || /[.$ \u0000-\u001f]/.test(name)) {
      throw invalid(`property name ${JSON.stringify(name)} is not allowed in a twin`);
    }
    checkValue(value, `${path}.${name}`, depth);
  }
}

function withoutBookkeeping(patch) {
  return Object.fromEntries(Object.entries(patch).filter(([name]) => !BOOKKEEPING.has(name)));
}

function merge(target, patch) {
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete target[name];
    else if (isObject(value)) target[name] = merge(isObject(target[name]) ? target[name] : {}, value);
    else target[name] = value;
  }
  return target;
}

function byteSize(section) {
  return Buffer.byteLength(JSON.stringify(section));
}

function newTwin(now) {
  return { desired: {}, reported: {}, tags: {}, desiredVersion: 1, reportedVersion: 1, version: 1, desiredUpdated: now, reportedUpdated: now };
}

export class Twins {
  #twins = new Map();
  #onChange;
  #clock;

  constructor({ clock, onChange = () => {} }) {
    this.#clock = clock;
    this.#onChange = onChange;
  }

  load(twins = {}) {
    for (const [key, twin] of Object.entries(twins)) this.#twins.set(key, twin);
  }

  toJSON() {
    return Object.fromEntries(this.#twins);
  }

  #twin(key) {
    let twin = this.#twins.get(key);
    if (!twin) {
      twin = newTwin(new Date(this.#clock.now()).toISOString());
      this.#twins.set(key, twin);
    }
    return twin;
  }

  delete(key) {
    if (this.#twins.delete(key)) this.#onChange();
  }

  /** What a device receives for a twin GET: only the property sections and their versions. */
  deviceView(key) {
    const twin = this.#twin(key);
    return {
      desired: { ...twin.desired, $version: twin.desiredVersion },
      reported: { ...twin.reported, $version: twin.reportedVersion },
    };
  }

  /** The service-side document, shaped like the hub's `GET /twins/{id}`. */
  serviceView(identity, connectionState) {
    const twin = this.#twin(keyOf(identity));
    return {
      deviceId: identity.deviceId,
      ...(identity.moduleId ? { moduleId: identity.moduleId } : {}),
      etag: Buffer.from(String(twin.version)).toString('base64'),
      status: identity.status,
      connectionState,
      authenticationType: identity.authentication.type,
      version: twin.version,
      tags: twin.tags,
      properties: {
        desired: { ...twin.desired, $metadata: { $lastUpdated: twin.desiredUpdated }, $version: twin.desiredVersion },
        reported: { ...twin.reported, $metadata: { $lastUpdated: twin.reportedUpdated }, $version: twin.reportedVersion },
      },
    };
  }

  /** Returns the section as it would be after the patch, without changing the twin. */
  #merged(key, section, patch, limit) {
    if (!isObject(patch)) throw invalid(`a ${section} patch must be a JSON object`);
    checkPatch(patch, section, 1);
    const merged = merge(structuredClone(this.#twin(key)[section]), withoutBookkeeping(patch));
    if (byteSize(merged) > limit) throw invalid(`${section} would exceed ${limit} bytes`);
    return merged;
  }

  /** Merges a device's reported patch; returns the new reported `$version`. */
  patchReported(key, patch) {
    const reported = this.#merged(key, 'reported', patch, TWIN_LIMITS.sectionBytes);
    const twin = this.#twin(key);
    twin.reported = reported;
    twin.reportedVersion += 1;
    twin.reportedUpdated = new Date(this.#clock.now()).toISOString();
    twin.version += 1;
    this.#onChange();
    return twin.reportedVersion;
  }

  /**
   * Merges a service-side patch `{properties: {desired}, tags}`. Returns the desired notification
   * to push to the device (the patch plus its new `$version`), or null when desired did not change.
   */
  patchService(key, { properties, tags } = {}) {
    const desiredPatch = properties?.desired;
    if (desiredPatch === undefined && tags === undefined) throw invalid('a twin patch needs properties.desired or tags');
    // Validate both parts before changing either, so a rejected patch leaves the twin untouched.
    const newTags = tags === undefined ? null : this.#merged(key, 'tags', tags, TWIN_LIMITS.tagsBytes);
    const newDesired = desiredPatch === undefined ? null : this.#merged(key, 'desired', desiredPatch, TWIN_LIMITS.sectionBytes);
    const twin = this.#twin(key);
    twin.version += 1;
    if (newTags) twin.tags = newTags;
    let notification = null;
    if (newDesired) {
      twin.desired = newDesired;
      twin.desiredVersion += 1;
      twin.desiredUpdated = new Date(this.#clock.now()).toISOString();
      notification = { ...withoutBookkeeping(desiredPatch), $version: twin.desiredVersion };
    }
    this.#onChange();
    return notification;
  }
}
