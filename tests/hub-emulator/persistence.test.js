// Registry, twins and pending C2D messages survive a restart in the same data directory, and so
// does the CA that clients trust.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDevice, sdkClient, startEmulator, within } from './helpers.js';

test('state persists across a restart', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hubemu-persist-'));
  const emulators = [];
  try {
    await checkRestart(t, dir, emulators);
  } finally {
    // Test hooks run first-in first-out, which would remove the directory under a live emulator.
    for (const emulator of emulators) await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function checkRestart(t, dir, emulators) {
  const first = await startEmulator(t, { dataDir: dir });
  emulators.push(first);
  const device = await addDevice(first, 'keep-dev');
  await first.api('PATCH', '/twins/keep-dev', { properties: { desired: { interval: 7 } }, tags: { site: 'north' } });
  await first.api('POST', '/devices/keep-dev/messages/deviceBound', { body: 'waiting', messageId: 'kept-1', properties: { p: 'q' } });
  await first.stop('SIGINT');
  assert.deepEqual(await first.exited, [0, null], 'Ctrl-C stops serve cleanly');

  const second = await startEmulator(t, { dataDir: dir });
  emulators.push(second);
  assert.deepEqual(second.ca, first.ca, 'the CA is kept');
  const shown = await second.api('GET', '/devices/keep-dev');
  assert.equal(shown.body.authentication.symmetricKey.primaryKey, device.key);
  const twin = (await second.api('GET', '/twins/keep-dev')).body;
  assert.equal(twin.properties.desired.interval, 7);
  assert.equal(twin.properties.desired.$version, 2);
  assert.deepEqual(twin.tags, { site: 'north' });

  const client = await sdkClient(second, device.connectionString);
  const arrived = once(client, 'message');
  await within(10_000, client.open(), 'SDK open after restart');
  const [message] = await within(5000, arrived, 'kept C2D message');
  assert.equal(message.messageId, 'kept-1');
  assert.equal(message.data.toString(), 'waiting');
}
