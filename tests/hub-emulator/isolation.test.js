// Two SDK devices at once, plus a raw "spy" device subscribed to every `$iothub` filter: nothing
// meant for one connection may reach another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { addDevice, rawClient, sasToken, sdkClient, startEmulator, subscribed, within } from './helpers.js';

async function connectDevice(emulator, deviceId) {
  const device = await addDevice(emulator, deviceId);
  await emulator.api('PATCH', `/twins/${deviceId}`, { properties: { desired: { owner: deviceId } } });
  const client = await sdkClient(emulator, device.connectionString);
  await within(10_000, client.open(), `${deviceId} open`);
  const seen = { methods: [], desired: [], c2d: [] };
  client.onDeviceMethod('reboot', (request, response) => {
    seen.methods.push(request.payload);
    response.send(200, { answeredBy: deviceId, echo: request.payload });
  });
  client.on('message', (message) => seen.c2d.push(message.data.toString()));
  const twin = await within(5000, client.getTwin(), `${deviceId} getTwin`);
  twin.on('properties.desired', (delta) => seen.desired.push(delta));
  await subscribed(emulator, deviceId, '$iothub/methods/POST/#');
  await subscribed(emulator, deviceId, '$iothub/twin/PATCH/properties/desired/#');
  await subscribed(emulator, deviceId, `devices/${deviceId}/messages/devicebound/#`);
  return { client, twin, seen };
}

test('connections never see each other’s traffic', { timeout: 60_000 }, async (t) => {
  const emulator = await startEmulator(t);
  const [a, b] = await Promise.all([connectDevice(emulator, 'iso-a'), connectDevice(emulator, 'iso-b')]);

  const spyDevice = await addDevice(emulator, 'iso-spy');
  const spy = await rawClient(emulator, 'iso-spy', { password: sasToken('iso-spy', spyDevice.key) });
  const spied = [];
  spy.on('message', (topic) => spied.push(topic));
  await spy.subscribeAsync(['$iothub/methods/POST/#', '$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', 'devices/iso-spy/messages/devicebound/#'], { qos: 1 });

  await t.test('simultaneous method calls are each answered by their own device', async () => {
    const [toA, toB] = await Promise.all(['iso-a', 'iso-b'].map((id) => emulator.api('POST', `/twins/${id}/methods`, { methodName: 'reboot', payload: { for: id }, responseTimeoutInSeconds: 10 })));
    assert.deepEqual(toA.body, { status: 200, payload: { answeredBy: 'iso-a', echo: { for: 'iso-a' } } });
    assert.deepEqual(toB.body, { status: 200, payload: { answeredBy: 'iso-b', echo: { for: 'iso-b' } } });
    assert.deepEqual(a.seen.methods, [{ for: 'iso-a' }]);
    assert.deepEqual(b.seen.methods, [{ for: 'iso-b' }]);
  });

  await t.test('concurrent twin GETs each return the caller’s own twin', async () => {
    const gets = [];
    for (let i = 0; i < 20; i++) {
      for (const [id, device] of [['iso-a', a], ['iso-b', b]]) gets.push(device.twin.get().then((twin) => [id, twin.properties.desired.owner]));
    }
    for (const [id, owner] of await within(10_000, Promise.all(gets), 'twin GETs')) assert.equal(owner, id);
  });

  await t.test('desired patches and C2D messages reach only their device', async () => {
    const aPatched = new Promise((resolve) => a.twin.on('properties.desired', (delta) => delta.step === 'a' && resolve()));
    await emulator.api('PATCH', '/twins/iso-a', { properties: { desired: { step: 'a' } } });
    await within(5000, aPatched, 'patch for iso-a');
    const bPatched = new Promise((resolve) => b.twin.on('properties.desired', (delta) => delta.step === 'b' && resolve()));
    await emulator.api('PATCH', '/twins/iso-b', { properties: { desired: { step: 'b' } } });
    await within(5000, bPatched, 'patch for iso-b');
    assert.ok(!b.seen.desired.some((delta) => delta.step === 'a'), 'iso-b saw iso-a’s patch');

    const aMessage = once(a.client, 'message');
    await emulator.api('POST', '/devices/iso-a/messages/deviceBound', { body: 'for a' });
    await within(5000, aMessage, 'C2D for iso-a');
    const bMessage = once(b.client, 'message');
    await emulator.api('POST', '/devices/iso-b/messages/deviceBound', { body: 'for b' });
    await within(5000, bMessage, 'C2D for iso-b');
    assert.deepEqual(a.seen.c2d, ['for a']);
    assert.deepEqual(b.seen.c2d, ['for b']);
  });

  await t.test('the spy received nothing but its own message', async () => {
    // Its own C2D goes last on its connection: anything leaked to it earlier would precede it.
    const own = once(spy, 'message');
    await emulator.api('POST', '/devices/iso-spy/messages/deviceBound', { body: 'for spy' });
    await within(5000, own, 'C2D for the spy');
    assert.equal(spied.length, 1);
    assert.match(spied[0], /^devices\/iso-spy\/messages\/devicebound\//);
  });
});
