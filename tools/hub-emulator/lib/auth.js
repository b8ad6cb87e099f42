// Device authentication as IoT Hub performs it on CONNECT: the user name names the identity, the
// password is a SAS token signed with that identity's key, or absent when the TLS client
// certificate's thumbprint is registered instead.
import { createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { percentEncode } from './property-bag.js';

/**
 * Parses `{host}/{deviceId}[/{moduleId}]/?api-version=…`.
 * Returns null when the user name does not have that shape.
 */
export function parseUsername(username) {
  if (typeof username !== 'string') return null;
  const split = username.indexOf('/?');
  if (split < 0) return null;
  const path = username.slice(0, split).split('/');
  const query = new URLSearchParams(username.slice(split + 2));
  if (path.length < 2 || path.length > 3 || path.some((part) => part === '')) return null;
  const [host, deviceId, moduleId = null] = path;
  return { host, deviceId, moduleId, apiVersion: query.get('api-version') };
}

/** Parses `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]`, keeping values as sent. */
export function parseSasToken(token) {
  const prefix = 'SharedAccessSignature ';
  if (typeof token !== 'string' || !token.startsWith(prefix)) return null;
  const fields = {};
  for (const item of token.slice(prefix.length).split('&')) {
    const eq = item.indexOf('=');
    if (eq > 0) fields[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return fields.sr && fields.sig && fields.se ? fields : null;
}

export function identityResource(host, deviceId, moduleId = null) {
  return moduleId ? `${host}/devices/${deviceId}/modules/${moduleId}` : `${host}/devices/${deviceId}`;
}

/** HMAC over `sr` exactly as it appears in the token: SDKs disagree on its encoding, the hub accepts all. */
export function sasSignature(srAsSent, se, keyBase64) {
  return createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(`${srAsSent}\n${se}`).digest('base64');
}

export function createSasToken({ host, deviceId, moduleId = null, key, expiresAtSeconds }) {
  const sr = percentEncode(identityResource(host, deviceId, moduleId));
  const sig = percentEncode(sasSignature(sr, expiresAtSeconds, key));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiresAtSeconds}`;
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * Checks a SAS password against the identity's keys.
 * Returns `{ok: true, expiresAtMs}` or `{ok: false, reason}`; the reason is meant for the log.
 */
export function verifySasToken({ password, host, deviceId, moduleId, keys, nowMs }) {
  const token = parseSasToken(password);
  if (!token) return { ok: false, reason: 'password is not a SharedAccessSignature token' };
  const resource = identityResource(host, deviceId, moduleId);
  if (safeDecode(token.sr) !== resource) {
    return { ok: false, reason: `token resource ${JSON.stringify(safeDecode(token.sr))} is not ${JSON.stringify(resource)}` };
  }
  if (!/^\d+$/.test(token.se)) return { ok: false, reason: `token expiry ${JSON.stringify(token.se)} is not a number` };
  const expiresAtMs = Number(token.se) * 1000;
  if (expiresAtMs <= nowMs) {
    return { ok: false, reason: `token expired at ${new Date(expiresAtMs).toISOString()}` };
  }
  const presented = Buffer.from(safeDecode(token.sig) ?? '', 'base64');
  const matches = keys.some((key) => {
    const expected = Buffer.from(sasSignature(token.sr, token.se, key), 'base64');
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  });
  if (!matches) return { ok: false, reason: 'token signature does not match the device key' };
  return { ok: true, expiresAtMs };
}

/** Hub thumbprints are hex, compared case-insensitively; either SHA-1 or SHA-256 may be registered. */
export function normalizeThumbprint(text) {
  return String(text).replace(/:/g, '').toUpperCase();
}

export function verifyThumbprint({ certificateDer, thumbprints }) {
  if (!certificateDer) return { ok: false, reason: 'no client certificate was presented' };
  const cert = new X509Certificate(certificateDer);
  const presented = [cert.fingerprint, cert.fingerprint256].map(normalizeThumbprint);
  if (thumbprints.map(normalizeThumbprint).some((t) => presented.includes(t))) return { ok: true };
  return { ok: false, reason: `client certificate thumbprint ${presented[0]} is not registered` };
}
