// The fixed `hubemu` command forms, run as a person or a script would run them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Message, HUBEMU, randomKey, sdkClient, startEmulator, subscribed, within } from './helpers.js';

const exec = promisify(execFile);

test('hubemu CLI', { timeout: 120_000 }, async (t) => {
  const emulator = await startEmulator(t);
  const hubemu = async (...args) => {
    const { stdout } = await exec(HUBEMU, ['--url', emulator.url, ...args], { timeout: 20_000 });
    return stdout.trim();
  };

  const key = randomKey();
  const connectionString = await hubemu('device', 'add', 'cli-dev', '--key', key);
  assert.equal(connectionString, `HostName=localhost;DeviceId=cli-dev;SharedAccessKey=${key}`);
  assert.match(await hubemu('device', 'add', 'cli-other'), /^HostName=localhost;DeviceId=cli-other;SharedAccessKey=[A-Za-z0-9+/=]{44}$/);
  assert.deepEqual(JSON.parse(await hubemu('device', 'list')).map((d) => d.deviceId).sort(), ['cli-dev', 'cli-other']);
  assert.equal(JSON.parse(await hubemu('device', 'show', 'cli-dev')).connectionState, 'Disconnected');

  const offline = JSON.parse(await hubemu('invoke', 'cli-dev', 'reboot', '{"now":true}', '--timeout', '5'));
  assert.equal(offline.status, 404);
  assert.equal(offline.payload.errorCode, 404103);

  const client = await sdkClient(emulator, connectionString);
  await within(10_000, client.open(), 'SDK open');
  client.onDeviceMethod('reboot', (request, response) => response.send(200, { got: request.payload }));
  await subscribed(emulator, 'cli-dev', '$iothub/methods/POST/#');
  assert.deepEqual(JSON.parse(await hubemu('invoke', 'cli-dev', 'reboot', '{"now":true}')), { status: 200, payload: { got: { now: true } } });

  const c2d = new Promise((resolve) => client.on('message', resolve));
  await subscribed(emulator, 'cli-dev', 'devices/cli-dev/messages/devicebound/#');
  await hubemu('c2d', 'cli-dev', 'hello', '--prop', 'color=red', '--prop', 'size=x=l');
  const message = await within(5000, c2d, 'C2D via CLI');
  assert.equal(message.data.toString(), 'hello');
  assert.deepEqual(message.properties.propertyList.filter(({ key: k }) => k !== 'iothub-ack'), [{ key: 'color', value: 'red' }, { key: 'size', value: 'x=l' }]);

  assert.equal(JSON.parse(await hubemu('desired', 'cli-dev', '{"rate":5}')).properties.desired.rate, 5);
  assert.equal(JSON.parse(await hubemu('twin', 'cli-dev')).properties.desired.$version, 2);

  for (const n of [1, 2]) {
    const m = new Message(`{"n":${n}}`);
    m.properties.add('seq', String(n));
    await client.sendEvent(m);
  }
  const lines = (await hubemu('tail', 'cli-dev', '--count', '2', '--timeout', '10')).split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((entry) => [entry.device, entry.body, entry.properties.seq]), [['cli-dev', '{"n":1}', '1'], ['cli-dev', '{"n":2}', '2']]);
  assert.ok(lines.every((entry) => Date.parse(entry.enqueuedTime) > 0));
  // Fewer messages than --count by the timeout: what was seen is printed and the exit status says so.
  await assert.rejects(hubemu('tail', 'cli-other', '--count', '1', '--timeout', '0.3'), (error) => error.code === 1 && error.stdout === '');

  await hubemu('fault', 'refuse', '30');
  assert.ok(JSON.parse(await hubemu('fault', 'show')).refuseConnectsForSeconds > 0);
  await hubemu('fault', 'clear');
  assert.deepEqual(JSON.parse(await hubemu('fault', 'drop', 'cli-dev')), { dropped: ['cli-dev'] });
  assert.equal(JSON.parse(await hubemu('device', 'stats', 'cli-dev')).accepted >= 1, true);

  await assert.rejects(hubemu('device', 'show', 'missing'), (error) => error.code === 1 && /404/.test(error.stderr));
  await assert.rejects(hubemu('frobnicate'), (error) => error.code === 2);
});
