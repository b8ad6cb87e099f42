// The emulator's protocol pieces on their own: SAS tokens (with the hub's published vectors and an
// injected clock), property bags, topic scope, twin merging and limits, and the packet size guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { createSasToken, parseUsername, sasSignature, verifySasToken } from '../../tools/hub-emulator/lib/auth.js';
import { decodePropertyBag, encodePropertyBag } from '../../tools/hub-emulator/lib/property-bag.js';
import { guardPacketSize } from '../../tools/hub-emulator/lib/size-guard.js';
import { classifyPublish, isAllowedSubscription } from '../../tools/hub-emulator/lib/topics.js';
import { DeviceConnection } from '../../tools/hub-emulator/lib/connections.js';
import { HubError } from '../../tools/hub-emulator/lib/errors.js';
import { Twins } from '../../tools/hub-emulator/lib/twins.js';

const KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const HOST = 'myhub.azure-devices.net';
const SE = 1700000000;

test('SAS signatures match the published vectors for every sr spelling', () => {
  assert.equal(sasSignature('myhub.azure-devices.net%2Fdevices%2Fdevice1', SE, KEY), 'gFSfLGMXDOvf906/iaX3KwzLLNFHgaFZyCbsGjxtd1Y=');
  assert.equal(sasSignature('myhub.azure-devices.net%2Fdevices%2Fdevice1%2Fmodules%2Fmodule1', SE, KEY), 'aSJPNyCxfnEudzhZEU6yJNbVb8UQC0RdeXyc7OXVbi8=');
  assert.equal(sasSignature('myhub.azure-devices.net%2fdevices%2fdevice1', SE, KEY), 'iIyvul1z7xsjQDMXvGvUxZi+lqnXkFn5lOgyNrICYDM=');
  assert.equal(sasSignature('myhub.azure-devices.net/devices/device1', SE, KEY), 'NlrxHOPrp0Ykah29gS5LOHFu7Y/i4fWSpV//MjSnuQ8=');
  assert.equal(createSasToken({ host: HOST, deviceId: 'device1', key: KEY, expiresAtSeconds: SE }),
    'SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1&sig=gFSfLGMXDOvf906%2FiaX3KwzLLNFHgaFZyCbsGjxtd1Y%3D&se=1700000000');
});

test('SAS verification uses the injected clock and names the reason for a refusal', () => {
  const check = (password, nowMs, overrides = {}) => verifySasToken({ password, host: HOST, deviceId: 'device1', moduleId: null, keys: [KEY], nowMs, ...overrides });
  const before = SE * 1000 - 1;
  const token = createSasToken({ host: HOST, deviceId: 'device1', key: KEY, expiresAtSeconds: SE });
  assert.deepEqual(check(token, before), { ok: true, expiresAtMs: SE * 1000 });
  assert.match(check(token, SE * 1000).reason, /expired/);
  const unencoded = `SharedAccessSignature sr=${HOST}/devices/device1&sig=${encodeURIComponent('NlrxHOPrp0Ykah29gS5LOHFu7Y/i4fWSpV//MjSnuQ8=')}&se=${SE}`;
  assert.equal(check(unencoded, before).ok, true, 'sr is signed as sent, encoded or not');
  assert.match(check(token, before, { keys: ['AAAAAAAAAAAAAAAAAAAAAA=='] }).reason, /signature/);
  assert.match(check(token, before, { deviceId: 'device2' }).reason, /resource/);
  assert.match(check('not a token', before).reason, /SharedAccessSignature/);
});

test('user names parse into host and identity', () => {
  assert.deepEqual(parseUsername('h.net/dev/?api-version=2021-04-12&DeviceClientType=x'), { host: 'h.net', deviceId: 'dev', moduleId: null, apiVersion: '2021-04-12' });
  assert.equal(parseUsername('h.net/dev/mod/?api-version=1').moduleId, 'mod');
  assert.equal(parseUsername('h.net/dev'), null);
  assert.equal(parseUsername('h.net//?api-version=1'), null);
});

test('property bags decode the way the hub encodes them', () => {
  assert.deepEqual(decodePropertyBag('%24.mid=m1&alarm=high%20%26%20dry&plus=a+b&flag&empty='), { '$.mid': 'm1', alarm: 'high & dry', plus: 'a+b', flag: null, empty: '' });
  assert.equal(encodePropertyBag({ '$.to': '/devices/d/messages/devicebound', 'k&y': "v=1 (x)'" }), '%24.to=%2Fdevices%2Fd%2Fmessages%2Fdevicebound&k%26y=v%3D1%20%28x%29%27');
  assert.throws(() => decodePropertyBag('bad=%E0%A4%A'), /malformed/);
});

test('topic scope keeps each identity to its own topics', () => {
  const device = { deviceId: 'd1', moduleId: null };
  assert.deepEqual(classifyPublish(device, 'devices/d1/messages/events/a=1'), { kind: 'telemetry', bag: 'a=1' });
  assert.deepEqual(classifyPublish(device, 'devices/d1/messages/events/a=1/'), { kind: 'telemetry', bag: 'a=1' });
  assert.equal(classifyPublish(device, 'devices/d2/messages/events/'), null);
  assert.equal(classifyPublish(device, 'devices/d1/messages/devicebound/'), null);
  assert.equal(classifyPublish(device, '$iothub/twin/PATCH/properties/desired/?$rid=1'), null);
  assert.deepEqual(classifyPublish(device, '$iothub/methods/res/200/?$rid=a%2Fb'), { kind: 'method-response', status: 200, rid: 'a%2Fb' });
  assert.deepEqual(classifyPublish({ deviceId: 'd1', moduleId: 'm' }, 'devices/d1/modules/m/messages/events/'), { kind: 'telemetry', bag: '' });
  assert.ok(isAllowedSubscription(device, 'devices/d1/messages/devicebound/#'));
  assert.ok(!isAllowedSubscription(device, 'devices/+/messages/devicebound/#'));
  assert.ok(!isAllowedSubscription({ deviceId: 'd1', moduleId: 'm' }, 'devices/d1/messages/devicebound/#'));
  assert.ok(!isAllowedSubscription(device, '$iothub/#'));
});

test('twin patches merge, delete on null, bump versions and respect limits', () => {
  let nowMs = 0;
  const twins = new Twins({ clock: { now: () => nowMs } });
  assert.deepEqual(twins.deviceView('d'), { desired: { $version: 1 }, reported: { $version: 1 } });
  assert.equal(twins.patchReported('d', { a: { b: 1, c: 2 }, keep: true }), 2);
  nowMs = 1000;
  assert.equal(twins.patchReported('d', { a: { b: null, d: [1, 2] } }), 3);
  assert.deepEqual(twins.deviceView('d').reported, { a: { c: 2, d: [1, 2] }, keep: true, $version: 3 });
  assert.deepEqual(twins.patchService('d', { properties: { desired: { x: 1, $version: 99 } } }), { x: 1, $version: 2 });

  const rejects = (patch, pattern) => assert.throws(() => twins.patchReported('d', patch), (error) => error instanceof HubError && error.status === 400 && pattern.test(error.message));
  rejects({ 'a.b': 1 }, /name/);
  rejects({ big: 'x'.repeat(4097) }, /4096 bytes/);
  rejects({ list: [1, null] }, /null/);
  let deep = { leaf: 1 };
  for (let i = 0; i < 10; i++) deep = { n: deep };
  rejects(deep, /deeper/);
  const nearlyFull = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
  rejects(nearlyFull, /32768 bytes/);
  assert.equal(twins.deviceView('d').reported.$version, 3, 'rejected patches change nothing');
});

test('the size guard cuts a connection that announces an oversize packet', async () => {
  const socket = new PassThrough();
  let oversize = false;
  const guarded = guardPacketSize(socket, 1000, () => {
    oversize = true;
  });
  guarded.on('error', () => {});
  // PINGREQ, then a PUBLISH announcing 1001 bytes with its length split across two chunks.
  const passed = once(guarded, 'data');
  socket.emit('data', Buffer.from([0xc0, 0x00, 0x30, 0xe9]));
  assert.deepEqual((await passed)[0], Buffer.from([0xc0, 0x00, 0x30, 0xe9]));
  assert.equal(oversize, false);
  socket.emit('data', Buffer.from([0x07]));
  assert.equal(oversize, true);
  assert.equal(socket.destroyed, true);
});

test('connection timers beyond the 24.8-day setTimeout limit do not fire early', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const connection = new DeviceConnection({ client: null, identity: null, key: 'd', serial: 1 });
  let fired = false;
  const thirtyDaysMs = 30 * 24 * 3600 * 1000;
  connection.schedule(thirtyDaysMs, () => {
    fired = true;
  });
  const limit = 2 ** 31 - 1;
  // Tick to the first step's end first: mocked timers run callbacks at the end of a tick.
  t.mock.timers.tick(limit);
  assert.equal(fired, false);
  t.mock.timers.tick(thirtyDaysMs - limit - 1);
  assert.equal(fired, false);
  t.mock.timers.tick(1);
  assert.equal(fired, true);
});
