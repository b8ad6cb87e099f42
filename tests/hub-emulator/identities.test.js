// Identity kinds and MQTT details beyond the SDK's happy path: X.509 thumbprints, modules, the
// granted QoS of a QoS 2 subscription, and what the hub does with retain flags and Wills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, addDevice, nextTelemetry, rawClient, sasToken, startEmulator } from './helpers.js';

function selfSignedCertificate(dir, name) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, `${name}.crt`));
  return { cert, key: readFileSync(join(dir, `${name}.key`)), thumbprint: new X509Certificate(cert).fingerprint256.replace(/:/g, '') };
}

test('identities and MQTT details', { timeout: 60_000 }, async (t) => {
  const emulator = await startEmulator(t);
  const certDir = mkdtempSync(join(tmpdir(), 'hubemu-x509-'));
  t.after(() => rmSync(certDir, { recursive: true, force: true }));

  await t.test('an X.509 device authenticates by certificate thumbprint, and another certificate is refused', async () => {
    const registered = selfSignedCertificate(certDir, 'x509-dev');
    const stranger = selfSignedCertificate(certDir, 'stranger');
    const put = await emulator.api('PUT', '/devices/x509-dev', { authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: registered.thumbprint.toLowerCase() } } });
    assert.equal(put.status, 200);
    const client = await rawClient(emulator, 'x509-dev', { cert: registered.cert, key: registered.key });
    await client.publishAsync('devices/x509-dev/messages/events/', 'by certificate', { qos: 1 });
    const error = await rawClient(emulator, 'x509-dev', { cert: stranger.cert, key: stranger.key }).then(() => assert.fail('connected'), (e) => e);
    assert.equal(error.code, 5);
    await emulator.logged(/x509-dev: client certificate thumbprint [0-9A-F]+ is not registered/);
  });

  await t.test('a module authenticates as device/module and its telemetry says so', async () => {
    await addDevice(emulator, 'host-dev');
    const module = await emulator.api('PUT', '/devices/host-dev/modules/probe');
    assert.equal(module.status, 200);
    const key = module.body.authentication.symmetricKey.primaryKey;
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const sr = encodeURIComponent(`${HOST}/devices/host-dev/modules/probe`);
    const sig = encodeURIComponent(createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64'));
    const client = await rawClient(emulator, 'host-dev', {
      clientId: 'host-dev/probe',
      username: `${HOST}/host-dev/probe/?api-version=2021-04-12`,
      password: `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiry}`,
    });
    await client.publishAsync('devices/host-dev/modules/probe/messages/events/%24.mid=mod-1', 'from module', { qos: 1 });
    const entry = await nextTelemetry(emulator, 'host-dev');
    assert.equal(entry.module, 'probe');
    assert.equal(entry.systemProperties['iothub-connection-module-id'], 'probe');
  });

  await t.test('a QoS 2 subscription is granted QoS 1', async () => {
    const device = await addDevice(emulator, 'qos-dev');
    const client = await rawClient(emulator, 'qos-dev', { password: sasToken('qos-dev', device.key) });
    const granted = await client.subscribeAsync('devices/qos-dev/messages/devicebound/#', { qos: 2 });
    assert.deepEqual(granted.map((g) => g.qos), [1]);
  });

  await t.test('retained telemetry is not retained but marked, and a Will arrives as telemetry', async () => {
    const device = await addDevice(emulator, 'will-dev');
    const client = await rawClient(emulator, 'will-dev', {
      password: sasToken('will-dev', device.key),
      will: { topic: 'devices/will-dev/messages/events/reason=gone', payload: Buffer.from('bye'), qos: 1, retain: false },
    });
    await client.publishAsync('devices/will-dev/messages/events/', 'kept?', { qos: 1, retain: true });
    const retained = await nextTelemetry(emulator, 'will-dev', (entry) => entry.body === 'kept?');
    assert.equal(retained.properties['mqtt-retain'], 'true');
    client.stream.destroy();
    const will = await nextTelemetry(emulator, 'will-dev', (entry) => entry.body === 'bye');
    assert.deepEqual(will.properties, { reason: 'gone', 'iothub-MessageType': 'Will' });
  });
});
