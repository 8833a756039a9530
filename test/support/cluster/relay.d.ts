import type { Socket } from 'node:net';

/** relay.js's piping of two sockets both ways (see there), for the harness's in-process relays. */
export function pipeBoth(a: Socket, b: Socket): void;
