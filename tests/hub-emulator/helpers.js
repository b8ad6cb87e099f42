// Shared test plumbing: an emulator per test on free ports in a temporary data directory, the
// official SDK and a raw MQTT client pointed at it, and small await-able helpers.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import deviceSdk from 'azure-iot-device';
import mqttTransport from 'azure-iot-device-mqtt';

// The SDK packages are CommonJS without statically detectable named exports.
export const { Client, Message } = deviceSdk;
const { Mqtt } = mqttTransport;

export const HUBEMU = join(dirname(fileURLToPath(import.meta.url)), '../../tools/hub-emulator/hubemu');
export const HOST = 'localhost';

/** Rejects after `ms` unless `promise` settles first. */
export function within(ms, promise, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts `hubemu serve`; it is stopped (and its directory removed) when the test `t` ends. */
export async function startEmulator(t, { dataDir = null } = {}) {
  const ownDir = dataDir === null;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'hubemu-test-'));
  const child = spawn(HUBEMU, ['serve', '--data', dir, '--host', HOST, '--mqtt-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const logLines = createInterface({ input: child.stderr });
  logLines.on('line', (line) => log.push(line));
  const exited = once(child, 'exit');
  // Should the test process end without running its hooks (a timeout, an uncaught error), the
  // emulator must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  exited.then(() => process.off('exit', killOnExit));
  // Clients close before the emulator stops: an SDK client that sees its hub go away starts a
  // retry loop that keeps the test process alive.
  const clients = [];
  const stop = async (signal = 'SIGTERM') => {
    for (const close of clients.splice(0).reverse()) await close();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await within(5000, exited, 'emulator shutdown').catch(() => child.kill('SIGKILL'));
    }
  };
  t.after(async () => {
    await stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  });
  const [line] = await within(15_000, once(createInterface({ input: child.stdout }), 'line'), 'emulator start');
  const match = /^ready mqtts:\/\/(.+):(\d+) http:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
  if (!match) throw new Error(`unexpected ready line: ${line}`);
  const url = `http://127.0.0.1:${match[3]}`;
  return {
    dir,
    url,
    mqttPort: Number(match[2]),
    ca: readFileSync(join(dir, 'ca.crt')),
    log,
    stop,
    exited,
    /** Resolves with the first log line, past or future, that matches `pattern`. */
    logged(pattern, timeoutMs = 5000) {
      const seen = log.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return within(timeoutMs, new Promise((resolve) => {
        const listener = (line) => {
          if (!pattern.test(line)) return;
          logLines.off('line', listener);
          resolve(line);
        };
        logLines.on('line', listener);
      }), `log line ${pattern}`);
    },
    /** Registers `close` to run before the emulator stops. */
    closeBeforeStop(close) {
      clients.push(close);
    },
    /** Calls the HTTP API; resolves to `{status, body}`. */
    async api(method, path, body) {
      const response = await fetch(url + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? null : JSON.parse(text) };
    },
  };
}

/** Registers a SAS device; resolves to `{deviceId, key, connectionString}`. */
export async function addDevice(emulator, deviceId, key = undefined) {
  const { status, body } = await emulator.api('PUT', `/devices/${deviceId}`, key ? { authentication: { type: 'sas', symmetricKey: { primaryKey: key } } } : undefined);
  if (status !== 200) throw new Error(`adding ${deviceId} failed: ${status} ${JSON.stringify(body)}`);
  return { deviceId, key: body.authentication.symmetricKey.primaryKey, connectionString: body.connectionString };
}

/** An official SDK client for the connection string, trusting only the emulator's CA; closed after the test. */
export async function sdkClient(emulator, connectionString) {
  const client = Client.fromConnectionString(`${connectionString};GatewayHostName=${HOST}:${emulator.mqttPort}`, Mqtt);
  await client.setOptions({ ca: emulator.ca.toString() });
  emulator.closeBeforeStop(() => within(5000, client.close(), 'SDK close').catch(() => {}));
  return client;
}

/** A SAS token computed independently of the emulator's code. */
export function sasToken(deviceId, key, expiresAtSeconds = Math.floor(Date.now() / 1000) + 3600) {
  const sr = encodeURIComponent(`${HOST}/devices/${deviceId}`);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiresAtSeconds}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiresAtSeconds}`;
}

export function randomKey() {
  return randomBytes(32).toString('base64');
}

/**
 * Connects a raw MQTT 3.1.1 client as `deviceId`, over TLS trusting the emulator's CA. Resolves to
 * the client, or rejects with the CONNACK error. Ended after the test.
 */
export async function rawClient(emulator, deviceId, { password, username, clientId = deviceId, cert, key, will } = {}) {
  const client = mqtt.connect({
    protocol: 'mqtts',
    host: HOST,
    port: emulator.mqttPort,
    ca: emulator.ca,
    cert,
    key,
    will,
    protocolVersion: 4,
    clientId,
    clean: false,
    username: username ?? `${HOST}/${deviceId}/?api-version=2021-04-12`,
    password,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  emulator.closeBeforeStop(() => client.endAsync(true));
  await within(10_000, new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  }), 'raw MQTT connect');
  // Negative tests provoke resets; they assert on `close`, and errors are kept for inspection.
  client.errors = [];
  client.on('error', (error) => client.errors.push(error));
  return client;
}

/** Resolves when the raw client's connection closes. */
export function closed(client) {
  // Not events.once: it would reject on the `error` event that usually precedes the close.
  return client.disconnected ? Promise.resolve() : new Promise((resolve) => client.once('close', resolve));
}

/** Resolves with the first value `next()` produces that satisfies `accept`, polling an emulator-side fact. */
export async function eventually(next, accept, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await next();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the first telemetry entry for `deviceId` accepted by `accept`, read from the event stream. */
export async function nextTelemetry(emulator, deviceId, accept = () => true, timeoutMs = 10_000) {
  const abort = new AbortController();
  const read = (async () => {
    const response = await fetch(`${emulator.url}/messages/events?device=${encodeURIComponent(deviceId)}`, { signal: abort.signal });
    let buffered = '';
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const entry = JSON.parse(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        if (accept(entry)) return entry;
      }
    }
    throw new Error('event stream ended');
  })();
  try {
    return await within(timeoutMs, read, `telemetry from ${deviceId}`);
  } finally {
    abort.abort();
  }
}

/**
 * Resolves once the emulator reports `filter` subscribed for the identity. SDK calls such as
 * onDeviceMethod subscribe in the background and offer nothing to await.
 */
export function subscribed(emulator, deviceId, filter) {
  return eventually(() => emulator.api('GET', `/devices/${deviceId}/connection-stats`), ({ body }) => body.subscriptions?.includes(filter), { what: `${deviceId} subscribed to ${filter}` });
}
