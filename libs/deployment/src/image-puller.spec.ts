// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import DockerModem from 'docker-modem';
import type Dockerode from 'dockerode';
import { PassThrough } from 'node:stream';
import { ImagePuller } from './image-puller';
import { RegistryPolicy } from './registry-policy';

const anyRegistry = new RegistryPolicy(['*']);

/** getImage/pull of dockerode, with the real modem's progress parser. */
class FakeDocker {
  present = false;
  pulls = 0;
  stream = new PassThrough();
  readonly modem = new DockerModem({ socketPath: '/nonexistent.sock' });

  getImage(): { inspect: () => Promise<unknown> } {
    return {
      inspect: () =>
        this.present
          ? Promise.resolve({})
          : Promise.reject(Object.assign(new Error('no such image'), { statusCode: 404 })),
    };
  }

  pull(): Promise<NodeJS.ReadableStream> {
    this.pulls += 1;
    return Promise.resolve(this.stream);
  }

  asDockerode(): Dockerode {
    return this as unknown as Dockerode;
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('ImagePuller', () => {
  let docker: FakeDocker;

  beforeEach(() => {
    docker = new FakeDocker();
  });

  it('does not pull an image that is present', async () => {
    docker.present = true;
    await new ImagePuller(docker.asDockerode(), 5, anyRegistry).ensure('demo:1');
    expect(docker.pulls).toBe(0);
  });

  it('pulls a missing image to the end of the stream', async () => {
    const done = new ImagePuller(docker.asDockerode(), 5, anyRegistry).ensure('demo:1');
    await new Promise((resolve) => setImmediate(resolve));
    docker.stream.write('{"status":"Pulling"}\n');
    docker.present = true;
    docker.stream.end('{"status":"Downloaded newer image"}\n');
    await done;
    expect(docker.pulls).toBe(1);
  });

  it('reports an error event in the stream as IMAGE_UNAVAILABLE with the reason', async () => {
    const done = new ImagePuller(docker.asDockerode(), 5, anyRegistry).ensure('demo:1');
    await new Promise((resolve) => setImmediate(resolve));
    docker.stream.end(
      '{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n',
    );
    const error = await rejectionOf(done);
    expect(isCodedError(error, 'IMAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(
      /^image demo:1 is not available locally and could not be pulled: the image was not found in its registry \(engine detail logged as [0-9a-f-]{36}\)$/,
    );
  });

  it('never shows what the registry answered, only our words for it', async () => {
    const done = new ImagePuller(docker.asDockerode(), 5, anyRegistry).ensure('demo:1');
    await new Promise((resolve) => setImmediate(resolve));
    const body = 'error parsing HTTP 200 response body: invalid character: \\"TOP-SECRET-42\\"';
    docker.stream.end(`{"errorDetail":{"message":"${body}"},"error":"${body}"}\n`);
    const error = await rejectionOf(done);
    expect(isCodedError(error, 'IMAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).not.toContain('TOP-SECRET-42');
  });

  it('refuses a registry on a private address before asking the engine', async () => {
    const puller = new ImagePuller(docker.asDockerode(), 5, new RegistryPolicy([]));
    const error = await rejectionOf(puller.ensure('127.0.0.1:5000/demo:1'));
    expect(isCodedError(error, 'REGISTRY_NOT_ALLOWED')).toBe(true);
    expect(docker.pulls).toBe(0);
  });

  it('gives up after the pull timeout', async () => {
    const started = Date.now();
    const error = await rejectionOf(
      new ImagePuller(docker.asDockerode(), 0.1, anyRegistry).ensure('demo:1'),
    );
    expect(isCodedError(error, 'IMAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toMatch(/timed out after 0.1s/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(docker.stream.destroyed).toBe(true);
  });

  it("rethrows the caller's abort reason and stops the pull", async () => {
    const controller = new AbortController();
    const done = new ImagePuller(docker.asDockerode(), 5, anyRegistry).ensure(
      'demo:1',
      controller.signal,
    );
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('request cancelled'));
    const error = await rejectionOf(done);
    expect((error as Error).message).toBe('request cancelled');
    expect(docker.stream.destroyed).toBe(true);
  });

  it('fails when the stream ends but the image is still missing', async () => {
    const done = new ImagePuller(docker.asDockerode(), 5, anyRegistry).ensure('demo:1');
    await new Promise((resolve) => setImmediate(resolve));
    docker.stream.end();
    const error = await rejectionOf(done);
    expect(isCodedError(error, 'IMAGE_UNAVAILABLE')).toBe(true);
  });
});
