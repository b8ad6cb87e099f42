// IoT Hub carries message properties in the last topic level as `name=value` pairs joined by `&`,
// each side percent-encoded. Unlike HTML forms, `+` is a literal plus and never means a space.

const STRICT_EXTRA = /[!'()*]/g;

export function percentEncode(text) {
  // encodeURIComponent leaves !'()* alone; the SDKs escape them, and so must we to produce the
  // same bytes they would sign or parse.
  return encodeURIComponent(text).replace(STRICT_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function percentDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`malformed percent-encoding in property bag: ${JSON.stringify(text)}`);
  }
}

/** Decodes `a=1&b&c=` into `{a: '1', b: null, c: ''}`; throws on malformed encoding. */
export function decodePropertyBag(bag) {
  const properties = {};
  if (!bag) return properties;
  for (const item of bag.split('&')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) properties[percentDecode(item)] = null;
    else properties[percentDecode(item.slice(0, eq))] = percentDecode(item.slice(eq + 1));
  }
  return properties;
}

/** Encodes entries in the given order; a null value is written as a bare name. */
export function encodePropertyBag(properties) {
  return Object.entries(properties)
    .map(([name, value]) => (value === null ? percentEncode(name) : `${percentEncode(name)}=${percentEncode(String(value))}`))
    .join('&');
}

/** Separates hub system properties (`$.xx` keys) from application properties. */
export function splitSystemProperties(properties) {
  const system = {};
  const application = {};
  for (const [name, value] of Object.entries(properties)) {
    if (name.startsWith('$.')) system[name] = value;
    else application[name] = value;
  }
  return { system, application };
}
