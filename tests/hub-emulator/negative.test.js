// What the hub refuses, and how: bad credentials, foreign topics, QoS 2, oversize messages, and
// methods that cannot be delivered or are never answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addDevice, closed, randomKey, rawClient, sasToken, sdkClient, startEmulator, subscribed, within } from './helpers.js';

function connectRefusal(promise) {
  return promise.then(() => assert.fail('the connection was accepted'), (error) => error);
}

test('hub refusals', { timeout: 60_000 }, async (t) => {
  const emulator = await startEmulator(t);
  const device = await addDevice(emulator, 'neg-dev');
  await addDevice(emulator, 'other-dev');

  await t.test('a wrong key is refused with CONNACK 5, logged, and counted', async () => {
    const wrong = device.connectionString.replace(/SharedAccessKey=.*$/, `SharedAccessKey=${randomKey()}`);
    const client = await sdkClient(emulator, wrong);
    const error = await connectRefusal(client.open());
    assert.equal(error.name, 'UnauthorizedError');
    assert.match(error.message, /Not authorized/);
    await emulator.logged(/neg-dev: token signature does not match/);
    const { body } = await emulator.api('GET', '/devices/neg-dev/connection-stats');
    assert.equal(body.refused, 1);
    assert.equal(body.attempts[0].accepted, false);
  });

  await t.test('an expired token is refused with CONNACK 5', async () => {
    const password = sasToken('neg-dev', device.key, Math.floor(Date.now() / 1000) - 10);
    const error = await connectRefusal(rawClient(emulator, 'neg-dev', { password }));
    assert.equal(error.code, 5);
    await emulator.logged(/neg-dev: token expired/);
  });

  await t.test("a token for another device's resource is refused", async () => {
    const key = (await emulator.api('GET', '/devices/other-dev')).body.authentication.symmetricKey.primaryKey;
    const error = await connectRefusal(rawClient(emulator, 'neg-dev', { password: sasToken('other-dev', key) }));
    assert.equal(error.code, 5);
    await emulator.logged(/neg-dev: token resource "localhost\/devices\/other-dev"/);
  });

  await t.test("publishing to another device's telemetry topic disconnects and is counted", async () => {
    const client = await rawClient(emulator, 'neg-dev', { password: sasToken('neg-dev', device.key) });
    const before = (await emulator.api('GET', '/devices/neg-dev/connection-stats')).body.scopeViolations;
    client.publish('devices/other-dev/messages/events/', 'spoof', { qos: 1 });
    await within(5000, closed(client), 'disconnect');
    const after = (await emulator.api('GET', '/devices/neg-dev/connection-stats')).body.scopeViolations;
    assert.equal(after, before + 1);
    assert.equal((await emulator.api('GET', '/devices/other-dev/messages/events')).body.length, 0);
  });

  await t.test("subscribing to another device's C2D topic disconnects", async () => {
    const client = await rawClient(emulator, 'neg-dev', { password: sasToken('neg-dev', device.key) });
    client.subscribe('devices/other-dev/messages/devicebound/#', { qos: 1 });
    await within(5000, closed(client), 'disconnect');
  });

  await t.test('a QoS 2 publish disconnects without PUBREC', async () => {
    const client = await rawClient(emulator, 'neg-dev', { password: sasToken('neg-dev', device.key) });
    let acknowledged = false;
    client.publish('devices/neg-dev/messages/events/', 'x', { qos: 2 }, (error) => {
      acknowledged = !error;
    });
    await within(5000, closed(client), 'disconnect');
    assert.equal(acknowledged, false);
  });

  await t.test('a 300 KB message disconnects without PUBACK', async () => {
    const client = await rawClient(emulator, 'neg-dev', { password: sasToken('neg-dev', device.key) });
    let acknowledged = false;
    client.publish('devices/neg-dev/messages/events/', Buffer.alloc(300 * 1024, 0x61), { qos: 1 }, (error) => {
      acknowledged = !error;
    });
    await within(5000, closed(client), 'disconnect');
    assert.equal(acknowledged, false);
    assert.equal((await emulator.api('GET', '/devices/neg-dev/messages/events')).body.length, 0);
  });

  await t.test('a method to an offline device fails at once with 404103', async () => {
    const { status, body } = await emulator.api('POST', '/twins/other-dev/methods', { methodName: 'reboot', responseTimeoutInSeconds: 5 });
    assert.equal(status, 404);
    assert.equal(body.errorCode, 404103);
  });

  await t.test('a method the device never answers fails with 504101 after its timeout', async () => {
    const client = await sdkClient(emulator, device.connectionString);
    await within(10_000, client.open(), 'SDK open');
    client.onDeviceMethod('answered', (request, response) => response.send(200));
    await subscribed(emulator, 'neg-dev', '$iothub/methods/POST/#');
    const started = Date.now();
    const { status, body } = await emulator.api('POST', '/twins/neg-dev/methods', { methodName: 'ignored', responseTimeoutInSeconds: 5 });
    assert.equal(status, 504);
    assert.equal(body.errorCode, 504101);
    assert.ok(Date.now() - started >= 4900, 'waited for the timeout');
  });
});
