#!/usr/bin/env node
'use strict';
/**
 * A byte relay between TCP and unix sockets: `node relay.js <listen>=<target> ...`, each side
 * `host:port` or an absolute unix socket path. The cluster harness runs it inside a node's
 * network namespace (nsenter --net) so that the namespace's 127.0.0.1 reaches services of the
 * host's 127.0.0.1 and back through unix sockets: a socket file belongs to the file system, not
 * to a network namespace, so it crosses namespaces without giving any of them an address on the
 * other's network. Plain Node and no dependencies, so it starts in ~50 ms and needs no build.
 * Prints `ready` once every listener listens.
 */
const fs = require('node:fs');
const net = require('node:net');

/** `{ path }` for an absolute unix socket path, `{ host, port }` for host:port. */
function parseEndpoint(text) {
  if (text.startsWith('/')) return { path: text };
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`not host:port nor an absolute unix socket path: ${text}`);
  }
  return { host: text.slice(0, colon), port };
}

/**
 * Pipes both ways. An error on either side destroys both at once. A side that closed cleanly
 * ends the other one, which is destroyed once it has flushed what it still buffers: destroying
 * it right away would drop the tail of a response written just before the close.
 */
function pipeBoth(a, b) {
  a.pipe(b);
  b.pipe(a);
  const fail = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', fail);
  b.on('error', fail);
  a.on('close', () => b.end(() => b.destroy()));
  b.on('close', () => a.end(() => a.destroy()));
}

function listen(spec) {
  const at = spec.indexOf('=');
  if (at <= 0) throw new Error(`expected <listen>=<target>, got: ${spec}`);
  const from = parseEndpoint(spec.slice(0, at));
  const to = parseEndpoint(spec.slice(at + 1));
  const server = net.createServer((client) => {
    pipeBoth(client, net.connect(to));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (from.path !== undefined) {
      // A socket file left by a relay that was killed makes listen fail with EADDRINUSE.
      fs.rmSync(from.path, { force: true });
      server.listen(from.path, resolve);
    } else {
      server.listen(from.port, from.host, resolve);
    }
  });
}

// Required by the harness (swarm-cluster.ts) for its own in-process relays: the same piping.
module.exports = { pipeBoth };
if (require.main !== module) return;

const specs = process.argv.slice(2);
if (specs.length === 0) {
  process.stderr.write('usage: node relay.js <listen>=<target> [<listen>=<target> ...]\n');
  process.exit(2);
}
// Through then() so that a malformed spec rejects like a failed listen instead of throwing.
Promise.all(specs.map((spec) => Promise.resolve(spec).then(listen))).then(
  () => process.stdout.write('ready\n'),
  (error) => {
    process.stderr.write(`relay: ${error.message}\n`);
    process.exit(1);
  },
);
// The harness stops relays with SIGTERM; exit at once (open connections die with the process).
process.on('SIGTERM', () => process.exit(0));
