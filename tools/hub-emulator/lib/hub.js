// Wires the emulator together: state that persists in the data directory, the device endpoint and
// the service-side HTTP API, plus the operations the service side performs across them.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CloudToDeviceQueues } from './c2d.js';
import { ensureCertificates } from './certs.js';
import { ConnectStats } from './connect-stats.js';
import { ConnectionTable } from './connections.js';
import { DeviceEndpoint } from './device-endpoint.js';
import { Faults } from './faults.js';
import { HttpApi } from './http-api.js';
import { MethodInvoker } from './methods.js';
import { Registry, identityKey, keyOf } from './registry.js';
import { StateFile } from './state-file.js';
import { TelemetryLog } from './telemetry.js';
import { Twins } from './twins.js';

export const systemClock = Object.freeze({ now: () => Date.now() });

export class Hub {
  constructor({ dataDir, hostName, clock, log }) {
    this.dataDir = dataDir;
    this.hostName = hostName;
    this.clock = clock;
    this.log = log;
    this.state = new StateFile(join(dataDir, 'state.json'), () => ({ registry: this.registry, twins: this.twins, c2d: this.c2d }));
    const onChange = () => this.state.scheduleSave();
    this.registry = new Registry({ onChange });
    this.twins = new Twins({ clock, onChange });
    this.c2d = new CloudToDeviceQueues({ clock, onChange });
    this.telemetry = new TelemetryLog();
    this.connections = new ConnectionTable();
    this.methods = new MethodInvoker({ connections: this.connections });
    this.faults = new Faults({ clock });
    this.stats = new ConnectStats();
    this.endpoint = new DeviceEndpoint({ hostName, clock, log, ...this.#parts() });
    this.http = new HttpApi(this);
  }

  #parts() {
    const { registry, twins, c2d, telemetry, methods, connections, faults, stats } = this;
    return { registry, twins, c2d, telemetry, methods, connections, faults, stats };
  }

  /** Loads state, makes certificates if needed and opens all listeners. Port 0 picks a free port. */
  async start({ mqttPort, httpPort, plainPort = null, bindAddress = '127.0.0.1' }) {
    mkdirSync(this.dataDir, { recursive: true });
    const saved = this.state.load();
    this.registry.load(saved.registry);
    this.twins.load(saved.twins);
    this.c2d.load(saved.c2d);
    const tls = ensureCertificates(this.dataDir, this.hostName);
    this.caPath = tls.caPath;
    Object.assign(this, await this.endpoint.start({ tls: { key: tls.key, cert: tls.cert }, bindAddress, mqttPort, plainPort }));
    this.httpPort = await this.http.start(httpPort);
  }

  async stop() {
    this.methods.cancelAll();
    this.http.stop();
    await this.endpoint.stop();
    this.state.flush();
  }

  describe() {
    return { hostName: this.hostName, mqttPort: this.mqttPort, plainPort: this.plainPort, httpPort: this.httpPort, caCertificate: this.caPath };
  }

  removeIdentity(deviceId, moduleId) {
    for (const key of this.registry.remove(deviceId, moduleId)) {
      this.connections.get(key)?.close();
      this.twins.delete(key);
      this.stats.reset(key);
    }
    if (moduleId === null) this.c2d.purge(deviceId);
  }

  sendC2d(device, request) {
    const message = this.c2d.enqueue(device.deviceId, request);
    this.endpoint.deliverC2d(device.deviceId);
    return { messageId: message.messageId, expiryTimeUtc: message.expiryTimeUtc };
  }

  serviceTwin(identity) {
    return this.twins.serviceView(identity, this.connections.get(keyOf(identity)) ? 'Connected' : 'Disconnected');
  }

  patchTwin(identity, patch) {
    const key = keyOf(identity);
    const notification = this.twins.patchService(key, patch);
    if (notification) this.endpoint.pushDesired(key, notification);
    return this.serviceTwin(identity);
  }

  invokeMethod(identity, request) {
    return this.methods.invoke(keyOf(identity), request);
  }

  /** Closes one identity's connection (`{deviceId, moduleId}`) or, without a device, every connection. */
  drop({ deviceId, moduleId = null } = {}) {
    const targets = deviceId ? [this.connections.get(identityKey(deviceId, moduleId))].filter(Boolean) : this.connections.all();
    for (const connection of targets) connection.close();
    return { dropped: targets.map((connection) => connection.key) };
  }
}
