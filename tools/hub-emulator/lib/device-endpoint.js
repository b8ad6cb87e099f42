// The device-facing MQTT 3.1.1 endpoint: aedes does the protocol work, and its hooks make it behave
// like IoT Hub (authentication, per-identity topic scope, `$iothub` request handling, C2D delivery).
import { createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { once } from 'node:events';
import { Aedes } from 'aedes';
import { parseUsername, verifySasToken, verifyThumbprint } from './auth.js';
import { c2dPublishPacket } from './c2d.js';
import { DeviceConnection } from './connections.js';
import { HubError } from './errors.js';
import { guardPacketSize } from './size-guard.js';
import { identityKey } from './registry.js';
import { decodeTelemetry } from './telemetry.js';
import { classifyPublish, deviceBoundFilter, isAllowedSubscription, DESIRED_FILTER, TWIN_RESPONSE_FILTER } from './topics.js';

const MAX_MESSAGE_BYTES = 256 * 1024;
// Room for the fixed header fields and the topic on top of the message itself; anything larger is
// cut off by the size guard before aedes buffers it.
const MAX_PACKET_BYTES = MAX_MESSAGE_BYTES + 4 * 1024;

// C2D PUBLISHes carry the serial of the connection they were written to. aedes replays a persistent
// session's unacknowledged QoS 1 messages on reconnect; the C2D queue redelivers those itself, so
// replays (which carry an older serial) are dropped. MQTT 3.1.1 never writes `properties`.
const C2D_MARK = 'x-hubemu-connection';

const refusal = (reason, returnCode = 5) => Object.assign(new Error(reason), { returnCode });

export class DeviceEndpoint {
  #broker;
  #servers = [];
  #sockets = new Set();
  #sessions = new WeakMap();
  #connectionOf = new WeakMap();
  #peerCertificates = new WeakMap();
  #serial = 0;

  constructor({ hostName, registry, twins, c2d, telemetry, methods, connections, faults, stats, clock, log }) {
    Object.assign(this, { hostName, registry, twins, c2d, telemetry, methods, connections, faults, stats, clock, log });
  }

  /** Starts the TLS listener and, when `plainPort` is not null, a plain TCP one; resolves to their ports. */
  async start({ tls, bindAddress, mqttPort, plainPort }) {
    this.#broker = new Aedes({
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, done),
      authorizeSubscribe: (client, subscription, done) => this.#authorizeSubscribe(client, subscription, done),
      authorizeForward: (client, packet) => this.#authorizeForward(client, packet),
    });
    await this.#broker.listen();
    this.#broker.on('client', (client) => this.#onConnected(client));
    this.#broker.on('clientReady', (client) => this.#deliverC2d(this.#connectionOf.get(client)));
    this.#broker.on('subscribe', (subscriptions, client) => this.#deliverC2d(this.#connectionOf.get(client)));
    this.#broker.on('clientDisconnect', (client) => this.#onDisconnected(client));
    this.#broker.on('ack', (packet, client) => this.#onPuback(client));

    // Clients may present a certificate (X.509 identities); SAS clients send none, which is fine.
    const secure = createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: false }, (socket) => {
      const certificate = socket.getPeerCertificate();
      this.#accept(socket, certificate?.raw ?? null);
    });
    const ports = { mqttPort: await this.#listen(secure, mqttPort, bindAddress), plainPort: null };
    if (plainPort !== null) ports.plainPort = await this.#listen(createTcpServer((socket) => this.#accept(socket, null)), plainPort, bindAddress);
    return ports;
  }

  async #listen(server, port, address) {
    this.#servers.push(server);
    server.listen(port, address);
    await once(server, 'listening');
    return server.address().port;
  }

  async stop() {
    for (const server of this.#servers) server.close();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#broker.close(resolve));
  }

  #accept(socket, certificateDer) {
    // Without this every CONNECT/CONNACK round trip waits on Nagle's algorithm (~45 ms).
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    const stream = guardPacketSize(socket, MAX_PACKET_BYTES, () => this.log(`a packet over ${MAX_PACKET_BYTES} bytes was announced; closing the connection`));
    this.#peerCertificates.set(stream, certificateDer);
    const client = this.#broker.handle(stream);
    // aedes fills in SUBACK's granted QoS before authorizeSubscribe runs, so the hub's "QoS 2 is
    // granted as 1" has to happen on the parsed packet. `_parser` is private: aedes is pinned.
    client._parser.prependListener('packet', (packet) => {
      if (packet.cmd !== 'subscribe') return;
      for (const subscription of packet.subscriptions) subscription.qos = Math.min(subscription.qos, 1);
    });
  }

  #authenticate(client, username, password, done) {
    const nowMs = this.clock.now();
    const parsed = parseUsername(username);
    const key = parsed ? identityKey(parsed.deviceId, parsed.moduleId) : client.id;
    const refuse = (reason, returnCode) => {
      this.stats.recordAttempt(key, nowMs, reason);
      this.log(`connect refused for ${key}: ${reason}`);
      done(refusal(reason, returnCode), null);
    };
    if (this.faults.refusingConnects()) return refuse('connects are refused by an injected fault', 3);
    if (!parsed) return refuse(`user name ${JSON.stringify(username)} is not {host}/{deviceId}/?api-version=…`);
    if (parsed.host !== this.hostName) return refuse(`user name names hub ${parsed.host}, this hub is ${this.hostName}`);
    if (client.id !== key) return refuse(`client id ${JSON.stringify(client.id)} does not match the user name's identity ${key}`);
    const identity = this.registry.get(parsed.deviceId, parsed.moduleId);
    if (!identity) return refuse('identity is not registered');
    if (identity.status !== 'enabled') return refuse('identity is disabled');

    let verdict;
    if (identity.authentication.type === 'sas') {
      if (!password) return refuse('no SAS token was given as the password');
      const { primaryKey, secondaryKey } = identity.authentication.symmetricKey;
      verdict = verifySasToken({ password: password.toString('utf8'), host: this.hostName, ...parsed, keys: [primaryKey, secondaryKey], nowMs });
    } else {
      const { primaryThumbprint, secondaryThumbprint } = identity.authentication.x509Thumbprint;
      verdict = verifyThumbprint({ certificateDer: this.#peerCertificates.get(client.conn), thumbprints: [primaryThumbprint, secondaryThumbprint].filter(Boolean) });
    }
    if (!verdict.ok) return refuse(verdict.reason);
    this.stats.recordAttempt(key, nowMs, null);
    this.#sessions.set(client, { identity, key, expiresAtMs: verdict.expiresAtMs ?? null });
    done(null, true);
  }

  #onConnected(client) {
    const session = this.#sessions.get(client);
    const connection = new DeviceConnection({ client, identity: session.identity, key: session.key, serial: ++this.#serial });
    this.#connectionOf.set(client, connection);
    this.connections.add(connection);
    // aedes knows nothing of SAS expiry; the hub closes the connection when the token runs out.
    if (session.expiresAtMs !== null) {
      connection.schedule(session.expiresAtMs - this.clock.now(), () => {
        this.log(`${session.key}: SAS token expired; closing the connection`);
        client.close();
      });
    }
    this.log(`${session.key} connected`);
  }

  #onDisconnected(client) {
    const connection = this.#connectionOf.get(client);
    if (!connection) return;
    connection.dispose();
    this.connections.remove(connection);
    this.log(`${connection.key} disconnected`);
  }

  #authorizeSubscribe(client, subscription, done) {
    const { identity, key } = this.#sessions.get(client);
    if (isAllowedSubscription(identity, subscription.topic)) return done(null, subscription);
    this.stats.recordScopeViolation(key);
    this.log(`${key} may not subscribe to ${subscription.topic}; closing the connection`);
    done(new Error(`subscription to ${subscription.topic} is not allowed`));
  }

  #authorizeForward(client, packet) {
    if (!packet.topic.startsWith('devices/')) return packet;
    const connection = this.#connectionOf.get(client);
    return connection && packet.properties?.userProperties?.[C2D_MARK] === String(connection.serial) ? packet : null;
  }

  #authorizePublish(client, packet, done) {
    const { identity, key } = this.#sessions.get(client);
    const reject = (reason, { scope = false } = {}) => {
      if (scope) this.stats.recordScopeViolation(key);
      this.log(`${key}: ${reason}; closing the connection`);
      done(new Error(reason));
    };
    if (packet.qos === 2) return reject('QoS 2 is not supported');
    if (packet.payload.length + Buffer.byteLength(packet.topic) > MAX_MESSAGE_BYTES) return reject(`message exceeds ${MAX_MESSAGE_BYTES} bytes`);
    const route = classifyPublish(identity, packet.topic);
    if (!route) return reject(`may not publish to ${packet.topic}`, { scope: true });
    // aedes offers a dropped connection's Will here, after the connection closed.
    if (client.closed) {
      if (route.kind !== 'telemetry') return done(null);
      try {
        this.#storeTelemetry(identity, packet, route.bag, { 'iothub-MessageType': 'Will' });
      } catch (error) {
        this.log(`${key}: Will dropped: ${error.message}`);
      }
      return done(null);
    }
    const connection = this.#connectionOf.get(client);
    switch (route.kind) {
      case 'telemetry':
        return this.#acceptTelemetry(connection, packet, route.bag, done, reject);
      case 'twin-get':
        this.#answerTwin(connection, route.rid, () => ({ status: 200, body: JSON.stringify(this.twins.deviceView(key)) }));
        return done(null);
      case 'twin-patch-reported':
        this.#answerTwin(connection, route.rid, () => {
          const version = this.twins.patchReported(key, parseJson(packet.payload));
          return { status: 204, version, body: '' };
        });
        return done(null);
      case 'method-response':
        this.methods.handleResponse(key, route.rid, route.status, packet.payload);
        return done(null);
    }
  }

  #acceptTelemetry(connection, packet, bag, done, reject) {
    const extra = {};
    if (packet.retain) {
      // The hub never retains; it forwards the flag as an application property.
      packet.retain = false;
      extra['mqtt-retain'] = 'true';
    }
    if (this.faults.withholdsPubacks(connection.key)) {
      this.log(`${connection.key}: withholding PUBACK (injected fault)`);
      return;
    }
    const accept = () => {
      try {
        this.#storeTelemetry(connection.identity, packet, bag, extra);
      } catch (error) {
        return reject(error.message);
      }
      done(null);
    };
    const throttle = this.faults.throttling(connection.key);
    if (!throttle) return accept();
    if (!connection.throttleArmed) {
      connection.throttleArmed = true;
      connection.schedule(throttle.closeAfterMs, () => {
        this.log(`${connection.key}: throttled too long; closing the connection`);
        connection.close();
      });
    }
    connection.schedule(throttle.delayMs, accept);
  }

  #storeTelemetry(identity, packet, bag, extraProperties) {
    const enqueuedTime = new Date(this.clock.now()).toISOString();
    this.telemetry.append(decodeTelemetry({ identity, bag, payload: packet.payload, enqueuedTime, extraProperties }));
  }

  /** Answers a twin request on the requesting connection, if it subscribed to twin responses. */
  #answerTwin(connection, rid, handle) {
    let response;
    try {
      response = handle();
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      // The SDK ignores the status in the topic; only a JSON body with errorCode marks a failure.
      response = { status: error.status, body: JSON.stringify({ errorCode: error.errorCode, message: error.message }) };
    }
    if (rid === null || !connection.isSubscribed(TWIN_RESPONSE_FILTER)) return;
    const version = response.version === undefined ? '' : `&$version=${response.version}`;
    connection.send({ cmd: 'publish', topic: `$iothub/twin/res/${response.status}/?$rid=${rid}${version}`, payload: Buffer.from(response.body), qos: 0, retain: false });
  }

  #deliverC2d(connection) {
    if (!connection || connection.identity.moduleId || !connection.isSubscribed(deviceBoundFilter(connection.identity.deviceId))) return;
    const { deviceId } = connection.identity;
    for (const message of this.c2d.pending(deviceId)) {
      if (connection.c2dInFlight.includes(message.lockToken)) continue;
      connection.c2dInFlight.push(message.lockToken);
      connection.send({ ...c2dPublishPacket(deviceId, message), properties: { userProperties: { [C2D_MARK]: String(connection.serial) } } });
    }
  }

  // Devices receive no QoS 1 PUBLISH but C2D messages, and MQTT requires PUBACKs in the order the
  // PUBLISHes arrived, so each PUBACK completes the oldest message still in flight.
  #onPuback(client) {
    const connection = this.#connectionOf.get(client);
    const lockToken = connection?.c2dInFlight.shift();
    if (lockToken) this.c2d.complete(connection.identity.deviceId, lockToken);
  }

  /** Called by the service side after queuing a C2D message. */
  deliverC2d(deviceId) {
    this.#deliverC2d(this.connections.get(deviceId));
  }

  /** Pushes a desired-properties notification if the identity is connected and subscribed. */
  pushDesired(key, notification) {
    const connection = this.connections.get(key);
    if (!connection?.isSubscribed(DESIRED_FILTER)) return;
    connection.send({ cmd: 'publish', topic: `$iothub/twin/PATCH/properties/desired/?$version=${notification.$version}`, payload: Buffer.from(JSON.stringify(notification)), qos: 0, retain: false });
  }
}

function parseJson(payload) {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new HubError(400, 400004, 'the reported patch is not valid JSON');
  }
}
