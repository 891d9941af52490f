/**
 * Where each queue's keys live in Redis. BullMQ names a queue's keys `<prefix>:<queue>:<suffix>` and needs all of
 * them in one cluster slot, so the prefix must carry a hash tag. One tag for the whole deployment (`{yb}`) would put
 * every queue in one slot, on one node of a Redis Cluster; each queue gets its own tag instead, the deployment's
 * name and the queue's inside one pair of braces: `{yb}` and `settlement` give `{yb:settlement}`, whose keys are
 * `{yb:settlement}:settlement:wait`, `{yb:settlement}:settlement:<job id>` and so on.
 *
 * The service's own keys (rate limits, stream limits, webhook slots) keep the plain deployment prefix (`{yb}:`).
 */

/** QUEUE_PREFIX's form: one hash tag of letters, digits, `_` and `-` (no `:`, which separates the queue's name). */
export const DEPLOYMENT_PREFIX = /^\{[A-Za-z0-9_-]+\}$/;

/** The BullMQ prefix of one queue of a deployment. */
export function queueKeyPrefix(deploymentPrefix: string, queue: string): string {
  if (!DEPLOYMENT_PREFIX.test(deploymentPrefix)) throw new Error(`Not a deployment prefix: "${deploymentPrefix}"`);
  return `${deploymentPrefix.slice(0, -1)}:${queue}}`;
}

/**
 * A SCAN pattern for every key of a deployment, its own and every queue's: `{yb}…` and `{yb:…`. Never `{yb*`, which
 * would also match another deployment named `{yb2}`.
 */
export function deploymentKeyPattern(deploymentPrefix: string): string {
  if (!DEPLOYMENT_PREFIX.test(deploymentPrefix)) throw new Error(`Not a deployment prefix: "${deploymentPrefix}"`);
  return `\\${deploymentPrefix.slice(0, -1)}[}:]*`;
}

/** The hash tag Redis Cluster slots a key by: the text inside its first `{…}`, if not empty; else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}
