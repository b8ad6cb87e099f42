// The hub is not a general broker: each connection may only use its own identity's topics.
// These functions decide what a publish or a subscription means for a given identity.

function telemetryPrefix({ deviceId, moduleId }) {
  return moduleId ? `devices/${deviceId}/modules/${moduleId}/messages/events/` : `devices/${deviceId}/messages/events/`;
}

export function deviceBoundFilter(deviceId) {
  return `devices/${deviceId}/messages/devicebound/#`;
}

export const METHODS_FILTER = '$iothub/methods/POST/#';
export const TWIN_RESPONSE_FILTER = '$iothub/twin/res/#';
export const DESIRED_FILTER = '$iothub/twin/PATCH/properties/desired/#';

/** The `$rid` of a request topic exactly as sent: the response must echo it byte for byte. */
function ridOf(topic) {
  const query = topic.slice(topic.indexOf('?') + 1);
  const field = query.split('&').find((item) => item.startsWith('$rid='));
  return field === undefined ? null : field.slice('$rid='.length);
}

/**
 * Classifies a device's PUBLISH topic. Returns `{kind, ...}` with kind one of
 * `telemetry` (bag), `twin-get` (rid), `twin-patch-reported` (rid), `method-response` (rid, status),
 * or null when the identity may not publish there.
 */
export function classifyPublish(identity, topic) {
  const prefix = telemetryPrefix(identity);
  if (topic.startsWith(prefix)) {
    // A trailing `/` after the bag is tolerated: the C# SDK sends one.
    const bag = topic.slice(prefix.length).replace(/\/$/, '');
    return bag.includes('/') ? null : { kind: 'telemetry', bag };
  }
  if (topic.startsWith('$iothub/twin/GET/?')) {
    return { kind: 'twin-get', rid: ridOf(topic) };
  }
  if (topic.startsWith('$iothub/twin/PATCH/properties/reported/?')) {
    return { kind: 'twin-patch-reported', rid: ridOf(topic) };
  }
  const methodResponse = /^\$iothub\/methods\/res\/(\d{1,3})\/\?/.exec(topic);
  if (methodResponse) {
    return { kind: 'method-response', status: Number(methodResponse[1]), rid: ridOf(topic) };
  }
  return null;
}

/** The only filters the hub lets an identity subscribe to; modules get no C2D. */
export function isAllowedSubscription(identity, filter) {
  if (filter === METHODS_FILTER || filter === TWIN_RESPONSE_FILTER || filter === DESIRED_FILTER) return true;
  return !identity.moduleId && filter === deviceBoundFilter(identity.deviceId);
}
