// Azure's official Node device SDK, unmodified, against the emulator over TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Message, addDevice, eventually, nextTelemetry, sdkClient, startEmulator, subscribed, within } from './helpers.js';

test('the official SDK works against the emulator', { timeout: 60_000 }, async (t) => {
  const emulator = await startEmulator(t);
  const device = await addDevice(emulator, 'sdk-dev');
  const client = await sdkClient(emulator, device.connectionString);
  await within(10_000, client.open(), 'SDK open');

  await t.test('telemetry arrives with system and application properties decoded', async () => {
    const message = new Message(JSON.stringify({ temp: 21.5 }));
    message.messageId = 'msg-1';
    message.correlationId = 'corr/1';
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    message.properties.add('alarm', 'high & dry');
    message.properties.add('unit', 'deg C/100%');
    await within(5000, client.sendEvent(message), 'sendEvent');
    const received = await nextTelemetry(emulator, 'sdk-dev', (entry) => entry.systemProperties['message-id'] === 'msg-1');
    assert.equal(received.device, 'sdk-dev');
    assert.equal(received.body, '{"temp":21.5}');
    assert.deepEqual(received.properties, { alarm: 'high & dry', unit: 'deg C/100%' });
    assert.equal(received.systemProperties['correlation-id'], 'corr/1');
    assert.equal(received.systemProperties['content-type'], 'application/json');
    assert.equal(received.systemProperties['content-encoding'], 'utf-8');
    assert.equal(received.systemProperties['iothub-connection-device-id'], 'sdk-dev');
    assert.ok(!Number.isNaN(Date.parse(received.enqueuedTime)));
  });

  await t.test('a C2D message arrives with its properties and leaves the queue once acknowledged', async () => {
    const arrived = once(client, 'message');
    const sent = await emulator.api('POST', '/devices/sdk-dev/messages/deviceBound', {
      body: '{"cmd":"blink"}', messageId: 'c2d-1', correlationId: 'corr-9', ack: 'full', properties: { color: 'red/blue', 'k&y': 'v=1' },
    });
    assert.equal(sent.status, 200);
    const [message] = await within(5000, arrived, 'C2D message');
    assert.equal(message.data.toString(), '{"cmd":"blink"}');
    assert.equal(message.messageId, 'c2d-1');
    assert.equal(message.correlationId, 'corr-9');
    assert.equal(message.to, '/devices/sdk-dev/messages/devicebound');
    assert.ok(message.expiryTimeUtc, 'the SDK sees $.exp');
    const properties = Object.fromEntries(message.properties.propertyList.map(({ key, value }) => [key, value]));
    assert.deepEqual(properties, { 'iothub-ack': 'full', color: 'red/blue', 'k&y': 'v=1' });
    await eventually(() => emulator.api('GET', '/devices/sdk-dev/messages/deviceBound'), ({ body }) => body.length === 0, { what: 'C2D completion' });
  });

  await t.test('a direct method reaches the device and its status and payload reach the caller', async () => {
    client.onDeviceMethod('reboot', (request, response) => {
      response.send(201, { rebooted: true, delay: request.payload.delay });
    });
    await subscribed(emulator, 'sdk-dev', '$iothub/methods/POST/#');
    const { status, body } = await emulator.api('POST', '/twins/sdk-dev/methods', { methodName: 'reboot', payload: { delay: 5 }, responseTimeoutInSeconds: 10 });
    assert.equal(status, 200);
    assert.deepEqual(body, { status: 201, payload: { rebooted: true, delay: 5 } });
  });

  await t.test('twin: get, reported update and a desired patch', async () => {
    await emulator.api('PATCH', '/twins/sdk-dev', { properties: { desired: { interval: 10 } } });
    const twin = await within(5000, client.getTwin(), 'getTwin');
    assert.equal(twin.properties.desired.interval, 10);
    assert.equal(twin.properties.desired.$version, 2);

    await within(5000, new Promise((resolve, reject) => twin.properties.reported.update({ fw: '1.2.3', nested: { a: 1 } }, (err) => (err ? reject(err) : resolve()))), 'reported update');
    const service = await emulator.api('GET', '/twins/sdk-dev');
    assert.equal(service.body.properties.reported.fw, '1.2.3');
    assert.deepEqual(service.body.properties.reported.nested, { a: 1 });
    assert.equal(service.body.properties.reported.$version, 2);
    assert.equal(service.body.connectionState, 'Connected');

    const patches = [];
    const patched = new Promise((resolve) => {
      twin.on('properties.desired', (delta) => {
        patches.push(delta);
        if (delta.$version === 3) resolve(delta);
      });
    });
    await subscribed(emulator, 'sdk-dev', '$iothub/twin/PATCH/properties/desired/#');
    const response = await emulator.api('PATCH', '/twins/sdk-dev', { properties: { desired: { interval: 30, mode: 'eco' } } });
    assert.equal(response.status, 200);
    const delta = await within(5000, patched, 'desired patch');
    assert.equal(delta.interval, 30);
    assert.equal(delta.mode, 'eco');
  });
});
