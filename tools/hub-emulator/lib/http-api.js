// The service side over HTTP on 127.0.0.1, shaped like IoT Hub's REST API where the hub has one
// (registry, twins, methods) and emulator-specific where it does not (telemetry, faults, stats).
import { createServer } from 'node:http';
import { once } from 'node:events';
import { HubError } from './errors.js';
import { identityKey, keyOf } from './registry.js';

const MAX_BODY_BYTES = 1024 * 1024;


async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HubError(413, 413000, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HubError(400, 400001, 'request body is not valid JSON');
  }
}

function sendJson(response, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export class HttpApi {
  #server;
  #routes;
  #streams = new Set();

  constructor(hub) {
    this.hub = hub;
    const seg = '([^/]+)';
    const identity = `${seg}(?:/modules/${seg})?`;
    // [method, path pattern, handler(params, request, response, url)]; params are decoded path segments.
    this.#routes = [
      ['GET', '/hub', () => this.hub.describe()],
      ['GET', '/devices', () => this.hub.registry.devices().map((device) => this.#describeIdentity(device))],
      ['GET', `/devices/${seg}/modules`, ([deviceId]) => {
        this.#requireIdentity(deviceId, null);
        return this.hub.registry.modules(deviceId).map((module) => this.#describeIdentity(module));
      }],
      ['PUT', `/devices/${identity}`, async ([deviceId, moduleId], request) => this.#describeIdentity(this.hub.registry.put(deviceId, moduleId, await readJson(request)))],
      ['GET', `/devices/${identity}`, ([deviceId, moduleId]) => this.#describeIdentity(this.#requireIdentity(deviceId, moduleId))],
      ['DELETE', `/devices/${identity}`, ([deviceId, moduleId]) => this.hub.removeIdentity(deviceId, moduleId)],
      ['GET', `/devices/${identity}/connection-stats`, ([deviceId, moduleId]) => this.#connectionStats(deviceId, moduleId)],
      ['POST', `/devices/${seg}/messages/deviceBound`, async ([deviceId], request) => this.hub.sendC2d(this.#requireIdentity(deviceId, null), await readJson(request))],
      ['GET', `/devices/${seg}/messages/deviceBound`, ([deviceId]) => {
        this.#requireIdentity(deviceId, null);
        return this.hub.c2d.pending(deviceId);
      }],
      ['GET', `/devices/${seg}/messages/events`, ([deviceId], request, response, url) => this.hub.telemetry.read({ deviceId, ...readPosition(url) })],
      ['GET', '/messages/events', (params, request, response, url) => this.#streamEvents(request, response, url)],
      ['GET', `/twins/${identity}`, ([deviceId, moduleId]) => this.hub.serviceTwin(this.#requireIdentity(deviceId, moduleId))],
      ['PATCH', `/twins/${identity}`, async ([deviceId, moduleId], request) => this.hub.patchTwin(this.#requireIdentity(deviceId, moduleId), await readJson(request))],
      ['POST', `/twins/${identity}/methods`, async ([deviceId, moduleId], request) => this.hub.invokeMethod(this.#requireIdentity(deviceId, moduleId), await readJson(request))],
      ['GET', '/faults', () => this.hub.faults.describe()],
      ['DELETE', '/faults', () => this.hub.faults.clear()],
      ['POST', '/faults/drop', async (params, request) => this.hub.drop(await readJson(request))],
      ['POST', '/faults/refuse-connects', async (params, request) => this.hub.faults.refuseConnects(positive((await readJson(request)).seconds, 'seconds'))],
      ['POST', '/faults/withhold-pubacks', async (params, request) => this.hub.faults.withholdPubacks(targetKey(await readJson(request)))],
      ['POST', '/faults/throttle', async (params, request) => {
        const body = await readJson(request);
        this.hub.faults.throttle(targetKey(body), { delayMs: positive(body.delayMs ?? 1000, 'delayMs'), closeAfterMs: positive(body.closeAfterSeconds ?? 10, 'closeAfterSeconds') * 1000 });
      }],
    ].map(([method, pattern, handler]) => [method, new RegExp(`^${pattern}$`), handler]);
  }

  async start(port) {
    this.#server = createServer((request, response) => this.#handle(request, response));
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    return this.#server.address().port;
  }

  stop() {
    for (const response of this.#streams) response.end();
    this.#server.closeAllConnections();
    this.#server.close();
  }

  async #handle(request, response) {
    const url = new URL(request.url, 'http://127.0.0.1');
    try {
      const route = this.#match(request.method, url.pathname);
      const result = await route.handler(route.params, request, response, url);
      if (!response.headersSent) sendJson(response, result === undefined ? 204 : 200, result);
    } catch (error) {
      if (response.headersSent) return response.destroy();
      const status = Number.isInteger(error.status) ? error.status : 500;
      if (status === 500) this.hub.log(`HTTP ${request.method} ${url.pathname} failed: ${error.stack}`);
      sendJson(response, status, { errorCode: error.errorCode ?? 500001, message: error.message });
    }
  }

  #match(method, path) {
    let pathMatched = false;
    for (const [routeMethod, pattern, handler] of this.#routes) {
      const match = pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (routeMethod === method) return { handler, params: match.slice(1).map((part) => (part === undefined ? null : decodeURIComponent(part))) };
    }
    throw pathMatched ? new HubError(405, 405000, `${method} is not supported on ${path}`) : new HubError(404, 404000, `no such resource: ${path}`);
  }

  #requireIdentity(deviceId, moduleId) {
    const identity = this.hub.registry.get(deviceId, moduleId);
    if (!identity) throw new HubError(404, 404001, `identity ${identityKey(deviceId, moduleId)} does not exist`);
    return identity;
  }

  #describeIdentity(identity) {
    const key = keyOf(identity);
    const { authentication } = identity;
    return {
      ...identity,
      connectionState: this.hub.connections.get(key) ? 'Connected' : 'Disconnected',
      ...(identity.moduleId ? {} : { cloudToDeviceMessageCount: this.hub.c2d.pending(identity.deviceId).length }),
      ...(authentication.type === 'sas'
        ? { connectionString: `HostName=${this.hub.hostName};DeviceId=${identity.deviceId}${identity.moduleId ? `;ModuleId=${identity.moduleId}` : ''};SharedAccessKey=${authentication.symmetricKey.primaryKey}` }
        : {}),
    };
  }

  #connectionStats(deviceId, moduleId) {
    const key = identityKey(deviceId, moduleId);
    const connection = this.hub.connections.get(key);
    return { connected: Boolean(connection), subscriptions: connection?.subscriptions() ?? [], ...this.hub.stats.get(key) };
  }

  /** NDJSON: every held message after `after` (optionally for one device), then new ones as they arrive. */
  #streamEvents(request, response, url) {
    const deviceId = url.searchParams.get('device');
    const { afterSeq } = readPosition(url);
    response.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    this.#streams.add(response);
    const write = (entry) => {
      if (deviceId === null || entry.device === deviceId) response.write(`${JSON.stringify(entry)}\n`);
    };
    // Held messages are written synchronously before following, so none can fall in between.
    for (const entry of this.hub.telemetry.read({ deviceId, afterSeq })) write(entry);
    const unfollow = this.hub.telemetry.follow(write);
    response.on('close', () => {
      unfollow();
      this.#streams.delete(response);
    });
  }
}

function readPosition(url) {
  const after = Number(url.searchParams.get('after') ?? 0);
  const limit = Number(url.searchParams.get('limit') ?? Infinity);
  if (!(Number.isInteger(after) && after >= 0) || !(limit > 0)) throw new HubError(400, 400004, 'after must be a sequence number and limit positive');
  return { afterSeq: after, limit };
}

function positive(value, name) {
  const number = Number(value);
  if (!(number > 0)) throw new HubError(400, 400004, `${name} must be a positive number`);
  return number;
}

/** A fault's target from `{deviceId, moduleId}`; no device means every identity. */
function targetKey({ deviceId, moduleId = null }) {
  return deviceId ? identityKey(deviceId, moduleId) : '*';
}
