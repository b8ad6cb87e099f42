// The identity registry: devices and their modules, each with symmetric keys or X.509 thumbprints.
import { randomBytes, randomUUID } from 'node:crypto';
import { HubError } from './errors.js';

// The hub's identity alphabet, less `+ # ? /`, which would be ambiguous inside MQTT topics or the
// CONNECT user name.
const ID_PATTERN = /^[A-Za-z0-9\-.%_*!(),=@$':;]{1,128}$/;


/** Identities are keyed, and MQTT client ids formed, as `deviceId` or `deviceId/moduleId`. */
export function identityKey(deviceId, moduleId = null) {
  return moduleId ? `${deviceId}/${moduleId}` : deviceId;
}

export function keyOf(identity) {
  return identityKey(identity.deviceId, identity.moduleId ?? null);
}

function generateKey() {
  return randomBytes(32).toString('base64');
}

function checkKey(key) {
  const bytes = Buffer.from(key, 'base64');
  // Round-tripping catches text that is not base64 at all; the hub wants 16 to 64 key bytes.
  if (bytes.toString('base64') !== key || bytes.length < 16 || bytes.length > 64) {
    throw new HubError(400, 400004, 'symmetric keys must be base64 of 16 to 64 bytes');
  }
  return key;
}

function buildAuthentication(requested = {}) {
  if (requested.type === 'selfSigned' || requested.type === 'certificateAuthority') {
    const { primaryThumbprint, secondaryThumbprint = null } = requested.x509Thumbprint ?? {};
    if (!primaryThumbprint) throw new HubError(400, 400004, 'an X.509 identity needs x509Thumbprint.primaryThumbprint');
    return { type: 'selfSigned', x509Thumbprint: { primaryThumbprint, secondaryThumbprint } };
  }
  if (requested.type !== undefined && requested.type !== 'sas') {
    throw new HubError(400, 400004, `unsupported authentication type ${JSON.stringify(requested.type)}`);
  }
  const { primaryKey, secondaryKey } = requested.symmetricKey ?? {};
  return {
    type: 'sas',
    symmetricKey: {
      primaryKey: primaryKey ? checkKey(primaryKey) : generateKey(),
      secondaryKey: secondaryKey ? checkKey(secondaryKey) : generateKey(),
    },
  };
}

function checkId(kind, id) {
  if (!ID_PATTERN.test(id ?? '')) throw new HubError(400, 400004, `invalid ${kind} id ${JSON.stringify(id)}`);
}

export class Registry {
  #identities = new Map();
  #onChange;

  constructor({ onChange = () => {} } = {}) {
    this.#onChange = onChange;
  }

  load(identities = []) {
    for (const identity of identities) this.#identities.set(identityKey(identity.deviceId, identity.moduleId), identity);
  }

  toJSON() {
    return [...this.#identities.values()];
  }

  /** Creates or replaces a device or module identity from a hub-shaped body. */
  put(deviceId, moduleId, body = {}) {
    checkId('device', deviceId);
    if (moduleId !== null) {
      checkId('module', moduleId);
      if (!this.get(deviceId)) throw new HubError(404, 404001, `device ${deviceId} does not exist`);
    }
    const key = identityKey(deviceId, moduleId);
    const previous = this.#identities.get(key);
    const status = body.status ?? previous?.status ?? 'enabled';
    if (status !== 'enabled' && status !== 'disabled') {
      throw new HubError(400, 400004, `status must be enabled or disabled, not ${JSON.stringify(status)}`);
    }
    const identity = {
      deviceId,
      ...(moduleId === null ? {} : { moduleId }),
      generationId: previous?.generationId ?? randomUUID(),
      etag: Buffer.from(randomUUID()).toString('base64').slice(0, 12),
      status,
      authentication: body.authentication ? buildAuthentication(body.authentication) : (previous?.authentication ?? buildAuthentication()),
      createdTime: previous?.createdTime ?? new Date().toISOString(),
    };
    this.#identities.set(key, identity);
    this.#onChange();
    return identity;
  }

  get(deviceId, moduleId = null) {
    return this.#identities.get(identityKey(deviceId, moduleId));
  }

  /** Removes the identity (and a device's modules); returns the identity keys that went away. */
  remove(deviceId, moduleId = null) {
    const key = identityKey(deviceId, moduleId);
    if (!this.#identities.has(key)) throw new HubError(404, 404001, `identity ${key} does not exist`);
    const removed = [...this.#identities.keys()].filter((k) => k === key || (moduleId === null && k.startsWith(`${key}/`)));
    for (const k of removed) this.#identities.delete(k);
    this.#onChange();
    return removed;
  }

  devices() {
    return [...this.#identities.values()].filter((identity) => identity.moduleId === undefined);
  }

  modules(deviceId) {
    return [...this.#identities.values()].filter((identity) => identity.deviceId === deviceId && identity.moduleId !== undefined);
  }
}
