// Session behaviour and injected faults: what a client's reliability code will be tested against.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { addDevice, closed, eventually, rawClient, sasToken, startEmulator, within } from './helpers.js';

const TELEMETRY = (id) => `devices/${id}/messages/events/`;
const C2D_FILTER = (id) => `devices/${id}/messages/devicebound/#`;

test('sessions and faults', { timeout: 60_000 }, async (t) => {
  const emulator = await startEmulator(t);
  const device = await addDevice(emulator, 'rel-dev');
  const connect = (options = {}) => rawClient(emulator, 'rel-dev', { password: sasToken('rel-dev', device.key), ...options });
  t.afterEach(() => emulator.api('DELETE', '/faults'));

  await t.test('a second connection with the same id drops the first', async () => {
    const first = await connect();
    const firstClosed = closed(first);
    const second = await connect();
    await within(5000, firstClosed, 'first connection closing');
    assert.ok(second.connected);
    await second.endAsync();
  });

  await t.test('the connection closes when its SAS token expires', async () => {
    const client = await connect({ password: sasToken('rel-dev', device.key, Math.floor(Date.now() / 1000) + 2) });
    await within(5000, closed(client), 'close at token expiry');
    await emulator.logged(/rel-dev: SAS token expired/);
  });

  await t.test('an unacknowledged C2D message is redelivered after reconnecting, then completed', async () => {
    const first = await connect();
    // Withhold the PUBACK, as a device that crashes before completing would.
    first.handleMessage = (packet, callback) => first.emit('unacked', packet);
    await first.subscribeAsync(C2D_FILTER('rel-dev'), { qos: 1 });
    const delivered = once(first, 'unacked');
    await emulator.api('POST', '/devices/rel-dev/messages/deviceBound', { body: 'again', messageId: 'redeliver-1' });
    const [packet] = await within(5000, delivered, 'first delivery');
    assert.match(packet.topic, /%24.mid=redeliver-1/);
    await first.endAsync(true);

    const second = await connect();
    const redelivered = once(second, 'message');
    await second.subscribeAsync(C2D_FILTER('rel-dev'), { qos: 1 });
    const [topic, payload] = await within(5000, redelivered, 'redelivery');
    assert.match(topic, /%24.mid=redeliver-1/);
    assert.equal(payload.toString(), 'again');
    await eventually(() => emulator.api('GET', '/devices/rel-dev/messages/deviceBound'), ({ body }) => body.length === 0, { what: 'completion' });
    await second.endAsync();
  });

  await t.test('the C2D queue holds at most 50 messages and drops expired ones', async () => {
    for (let i = 0; i < 50; i++) assert.equal((await emulator.api('POST', '/devices/rel-dev/messages/deviceBound', { body: `m${i}` })).status, 200);
    const refused = await emulator.api('POST', '/devices/rel-dev/messages/deviceBound', { body: 'one too many' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.errorCode, 403004);
    await emulator.api('DELETE', '/devices/rel-dev');
    const fresh = await addDevice(emulator, 'rel-dev', device.key);
    assert.equal(fresh.key, device.key);
    await emulator.api('POST', '/devices/rel-dev/messages/deviceBound', { body: 'short-lived', expiryTimeUtc: new Date(Date.now() + 300).toISOString() });
    await eventually(() => emulator.api('GET', '/devices/rel-dev/messages/deviceBound'), ({ body }) => body.length === 0, { what: 'expiry' });
  });

  await t.test('drop closes the connection', async () => {
    const client = await connect();
    const { body } = await emulator.api('POST', '/faults/drop', { deviceId: 'rel-dev' });
    assert.deepEqual(body.dropped, ['rel-dev']);
    await within(5000, closed(client), 'drop');
  });

  await t.test('refused connects get CONNACK 3 and are counted', async () => {
    await emulator.api('POST', '/faults/refuse-connects', { seconds: 30 });
    const before = (await emulator.api('GET', '/devices/rel-dev/connection-stats')).body;
    const error = await connect().then(() => assert.fail('connected'), (e) => e);
    assert.equal(error.code, 3);
    const after = (await emulator.api('GET', '/devices/rel-dev/connection-stats')).body;
    assert.equal(after.connectAttempts, before.connectAttempts + 1);
    assert.equal(after.attempts.at(-1).accepted, false);
    assert.ok(Date.parse(after.attempts.at(-1).time) > 0);
  });

  await t.test('withheld PUBACKs leave telemetry unacknowledged', async () => {
    await emulator.api('POST', '/faults/withhold-pubacks', { deviceId: 'rel-dev' });
    const client = await connect();
    const acknowledged = client.publishAsync(TELEMETRY('rel-dev'), 'stuck', { qos: 1 });
    // Absence can only be shown over a bounded time.
    await assert.rejects(within(1000, acknowledged, 'PUBACK'), /did not finish/);
    await emulator.logged(/rel-dev: withholding PUBACK/);
    await client.endAsync(true);
  });

  await t.test('throttling delays PUBACKs, then closes the connection', async () => {
    await emulator.api('POST', '/faults/throttle', { deviceId: 'rel-dev', delayMs: 300, closeAfterSeconds: 1 });
    const client = await connect();
    const started = Date.now();
    await within(5000, client.publishAsync(TELEMETRY('rel-dev'), 'slow', { qos: 1 }), 'delayed PUBACK');
    assert.ok(Date.now() - started >= 290, 'PUBACK was delayed');
    await within(5000, closed(client), 'throttle close');
    assert.ok(Date.now() - started >= 990, 'closed after the throttle period');
  });
});
