import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { openInstanceCall } from '@app/cluster';
import { Actor } from '@app/domain';
import type { SpooledUpload } from '@app/rock';
import { SandboxRouting } from '@app/sandbox';
import type { ActorRequest } from '../auth/request-actor.decorator';
import { ownerEnvelope } from './owner-envelope';

/**
 * Cluster mode, ROCK's `upload`: its multipart body is parsed (and the file spooled to disk) only
 * by the route, after the interceptor that forwards ROCK's other calls, so the route asks here.
 * When `sandbox_id` names a sandbox on another node, the same form is sent to that node's
 * instance, the spooled file streamed as its file part, and the owner's envelope is the answer.
 */
@Injectable()
export class RockUploadForwarder {
  constructor(private readonly routing: SandboxRouting) {}

  /** The owner's envelope, or null when the upload is this instance's to do. */
  async viaOwner(
    request: ActorRequest,
    actor: Actor,
    fields: Record<string, unknown>,
    file: SpooledUpload | undefined,
  ): Promise<unknown> {
    if (!this.routing.enabled || file === undefined) return null;
    if (this.routing.isForwarded(request.headers)) return null;
    const id = fields.sandbox_id;
    if (typeof id !== 'string' || id === '') return null;
    const owner = await this.routing.ownerFor(actor, id, 'api');
    if (owner === null) return null;

    const boundary = `sandboxd-${randomBytes(12).toString('hex')}`;
    const parts = Object.entries(fields)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .map(([name, value]) => `--${boundary}\r\n${disposition(name)}\r\n\r\n${value}\r\n`);
    const head = Buffer.from(
      `${parts.join('')}--${boundary}\r\n${disposition('file', file.originalname)}\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const response = await openInstanceCall(
      owner,
      'POST',
      request.originalUrl,
      {
        ...this.routing.headersFor(actor),
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': head.length + file.size + tail.length,
      },
      { connectMs: this.routing.connectTimeoutMs, totalMs: null },
      (sink) => {
        sink.write(head);
        const content = createReadStream(file.path);
        content.on('end', () => sink.end(tail));
        content.on('error', (error) => sink.destroy(error));
        content.pipe(sink, { end: false });
      },
    );
    return ownerEnvelope(response, owner);
  }
}

/** A form part's Content-Disposition; names and file names lose quotes and line breaks. */
function disposition(name: string, filename?: string): string {
  const clean = (text: string) => text.replace(/["\r\n]/g, '_');
  const file = filename === undefined ? '' : `; filename="${clean(filename)}"`;
  return `Content-Disposition: form-data; name="${clean(name)}"${file}`;
}
