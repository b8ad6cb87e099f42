// `hubemu`: runs the emulator (`serve`) or drives a running one through its HTTP API.
import { parseArgs } from 'node:util';
import { Hub, systemClock } from './hub.js';

const USAGE = `usage:
  hubemu serve --data DIR [--host localhost] [--mqtt-port 8883] [--http-port 8080] [--plain-port N] [--bind 127.0.0.1]
  hubemu [--url http://127.0.0.1:8080] COMMAND
    device add ID [--key BASE64 | --x509-thumbprint HEX]    prints the connection string
    device list | device show ID | device remove ID | device stats ID
    c2d ID BODY [--prop k=v]... [--message-id ID] [--ttl SECONDS]
    invoke ID METHOD [PAYLOAD_JSON] [--timeout SECONDS]      prints {"status":N,"payload":…}
    desired ID PATCH_JSON | twin ID
    tail [ID] [--count N] [--timeout SECONDS]                one JSON object per telemetry message
    fault drop [ID] | fault refuse SECONDS | fault withhold [ID]
    fault throttle [ID] [--delay MS] [--close-after SECONDS] | fault show | fault clear
  The URL defaults to $HUBEMU_URL, else http://127.0.0.1:8080.`;

const OPTIONS = {
  url: { type: 'string', default: process.env.HUBEMU_URL ?? 'http://127.0.0.1:8080' },
  data: { type: 'string' },
  host: { type: 'string', default: 'localhost' },
  bind: { type: 'string', default: '127.0.0.1' },
  'mqtt-port': { type: 'string', default: '8883' },
  'http-port': { type: 'string', default: '8080' },
  'plain-port': { type: 'string' },
  key: { type: 'string' },
  'x509-thumbprint': { type: 'string' },
  prop: { type: 'string', multiple: true, default: [] },
  'message-id': { type: 'string' },
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  count: { type: 'string' },
  delay: { type: 'string' },
  'close-after': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

class UsageError extends Error {}

function port(text, name) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new UsageError(`--${name} must be a port number`);
  return value;
}

function json(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what} is not valid JSON: ${text}`);
  }
}

function print(value) {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
}

async function serve(options) {
  if (!options.data) throw new UsageError('serve needs --data DIR');
  const log = (line) => process.stderr.write(`hubemu: ${line}\n`);
  const hub = new Hub({ dataDir: options.data, hostName: options.host, clock: systemClock, log });
  await hub.start({
    mqttPort: port(options['mqtt-port'], 'mqtt-port'),
    httpPort: port(options['http-port'], 'http-port'),
    plainPort: options['plain-port'] === undefined ? null : port(options['plain-port'], 'plain-port'),
    bindAddress: options.bind,
  });
  print(`ready mqtts://${options.host}:${hub.mqttPort} http://127.0.0.1:${hub.httpPort}`);
  if (hub.plainPort !== null) log(`plain MQTT (debugging only) on ${options.bind}:${hub.plainPort}`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await hub.stop();
}

/** A small client of the emulator's HTTP API; `call` resolves to `{status, body}` for any HTTP status. */
function apiClient(baseUrl) {
  return async function call(method, path, body) {
    const response = await fetch(new URL(path, baseUrl), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? null : JSON.parse(text) };
  };
}

async function expectOk(promise) {
  const { status, body } = await promise;
  if (status >= 300) throw new Error(`HTTP ${status}: ${body?.message ?? JSON.stringify(body)}`);
  return body;
}

function properties(pairs) {
  return Object.fromEntries(pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--prop wants k=v, got ${pair}`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  }));
}

async function tail(url, deviceId, { count, timeout }) {
  const limit = count === undefined ? Infinity : Number(count);
  const abort = new AbortController();
  const timer = timeout === undefined ? null : setTimeout(() => abort.abort(), Number(timeout) * 1000);
  const query = deviceId ? `?device=${encodeURIComponent(deviceId)}` : '';
  let seen = 0;
  try {
    const response = await fetch(new URL(`/messages/events${query}`, url), { signal: abort.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    let buffered = '';
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      let newline;
      while (seen < limit && (newline = buffered.indexOf('\n')) >= 0) {
        print(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        seen += 1;
      }
      if (seen >= limit) break;
    }
  } catch (error) {
    if (error.name !== 'AbortError') throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  // With --count, stopping short of it is a failure scripts can test for.
  return seen >= limit || limit === Infinity ? 0 : 1;
}

async function device(call, [action, id], options) {
  const path = () => {
    if (!id) throw new UsageError(`device ${action} needs an ID`);
    return `/devices/${encodeURIComponent(id)}`;
  };
  switch (action) {
    case 'add': {
      const authentication = options['x509-thumbprint']
        ? { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: options['x509-thumbprint'] } }
        : { type: 'sas', symmetricKey: options.key ? { primaryKey: options.key } : {} };
      const created = await expectOk(call('PUT', path(), { authentication }));
      return print(created.connectionString ?? created);
    }
    case 'list':
      return print(await expectOk(call('GET', '/devices')));
    case 'show':
      return print(await expectOk(call('GET', path())));
    case 'remove':
      return expectOk(call('DELETE', path()));
    case 'stats':
      return print(await expectOk(call('GET', `${path()}/connection-stats`)));
    default:
      throw new UsageError(`unknown device action ${action}`);
  }
}

async function fault(call, [action, arg], options) {
  const target = arg ? { deviceId: arg } : {};
  switch (action) {
    case 'drop':
      return print(await expectOk(call('POST', '/faults/drop', target)));
    case 'refuse':
      return expectOk(call('POST', '/faults/refuse-connects', { seconds: Number(arg) }));
    case 'withhold':
      return expectOk(call('POST', '/faults/withhold-pubacks', target));
    case 'throttle':
      return expectOk(call('POST', '/faults/throttle', { ...target, delayMs: Number(options.delay ?? 1000), closeAfterSeconds: Number(options['close-after'] ?? 10) }));
    case 'show':
      return print(await expectOk(call('GET', '/faults')));
    case 'clear':
      return expectOk(call('DELETE', '/faults'));
    default:
      throw new UsageError(`unknown fault action ${action}`);
  }
}

async function run(argv) {
  const { values: options, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [command, ...rest] = positionals;
  if (options.help || !command) return print(USAGE);
  if (command === 'serve') return serve(options);
  const call = apiClient(options.url);
  const need = (count, form) => {
    if (rest.length < count) throw new UsageError(`usage: hubemu ${form}`);
  };
  const twinPath = (id) => `/twins/${encodeURIComponent(id)}`;
  switch (command) {
    case 'device':
      return device(call, rest, options);
    case 'c2d': {
      need(2, 'c2d ID BODY [--prop k=v]...');
      const request = { body: rest[1], properties: properties(options.prop), messageId: options['message-id'], ttlSeconds: options.ttl === undefined ? undefined : Number(options.ttl) };
      return print(await expectOk(call('POST', `/devices/${encodeURIComponent(rest[0])}/messages/deviceBound`, request)));
    }
    case 'invoke': {
      need(2, 'invoke ID METHOD [PAYLOAD_JSON] [--timeout S]');
      const request = { methodName: rest[1], payload: rest[2] === undefined ? null : json(rest[2], 'PAYLOAD_JSON'), responseTimeoutInSeconds: Number(options.timeout ?? 30) };
      const { status, body } = await call('POST', `${twinPath(rest[0])}/methods`, request);
      // Hub failures (404103 offline, 504101 timeout) are results too: report them the same way.
      return print(status === 200 ? body : { status, payload: body });
    }
    case 'desired':
      need(2, 'desired ID PATCH_JSON');
      return print(await expectOk(call('PATCH', twinPath(rest[0]), { properties: { desired: json(rest[1], 'PATCH_JSON') } })));
    case 'twin':
      need(1, 'twin ID');
      return print(await expectOk(call('GET', twinPath(rest[0]))));
    case 'tail':
      return tail(options.url, rest[0], options);
    case 'fault':
      return fault(call, rest, options);
    default:
      throw new UsageError(`unknown command ${command}\n${USAGE}`);
  }
}

export async function main(argv) {
  try {
    const code = await run(argv);
    process.exitCode = typeof code === 'number' ? code : 0;
  } catch (error) {
    process.stderr.write(`hubemu: ${error.message}\n`);
    process.exitCode = error instanceof UsageError || error.code?.startsWith?.('ERR_PARSE_ARGS') ? 2 : 1;
  }
}
