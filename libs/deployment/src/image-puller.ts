import { CodedError } from '@app/domain';
import type Dockerode from 'dockerode';
import {
  httpStatus,
  isEngineUnreachable,
  loggedEngineReason,
  runtimeUnavailable,
} from './docker-errors';
import type { RegistryPolicy } from './registry-policy';

/** Our own deadline, so its words (not the engine's) may be shown. */
class PullTimeoutError extends Error {
  constructor(seconds: number) {
    super(`the pull timed out after ${seconds}s`);
    this.name = 'PullTimeoutError';
  }
}

interface ProgressEvent {
  error?: unknown;
  errorDetail?: { message?: unknown };
}

/**
 * Makes sure an image is present locally, pulling it if not. A pull that cannot finish (no
 * registry, unknown image, timeout) becomes IMAGE_UNAVAILABLE; a caller's abort is rethrown as its
 * own reason, since the image is not at fault then. The registry is checked against the policy
 * before the engine is asked anything, and what the engine or registry answered is only logged.
 */
export class ImagePuller {
  constructor(
    private readonly docker: Dockerode,
    private readonly timeoutSeconds: number,
    private readonly registries: RegistryPolicy,
  ) {}

  async ensure(image: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.registries.check(image);
    if (await this.isPresent(image)) return;
    try {
      await this.pull(image, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (isEngineUnreachable(error)) throw runtimeUnavailable(error);
      const reason =
        error instanceof PullTimeoutError
          ? error.message
          : loggedEngineReason(error, `pull of ${image}`);
      throw unavailable(image, reason, error);
    }
    // A pull stream can end "successfully" without the image (e.g. a platform mismatch).
    if (!(await this.isPresent(image))) {
      throw unavailable(image, 'the pull finished but the image is still not present');
    }
  }

  /**
   * The image's os/architecture (e.g. linux/amd64) when the engine holds it; null when it does
   * not or cannot say (placement then does not constrain the platform).
   */
  async platformOf(image: string): Promise<string | null> {
    try {
      const inspected = (await this.docker.getImage(image).inspect()) as {
        Os?: string;
        Architecture?: string;
      };
      return inspected.Os && inspected.Architecture
        ? `${inspected.Os}/${inspected.Architecture}`
        : null;
    } catch {
      return null;
    }
  }

  async isPresent(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (isEngineUnreachable(error)) throw runtimeUnavailable(error);
      // 404 is the normal "not here"; other 4xx (a malformed reference) are left for the pull to
      // explain, 5xx are engine trouble.
      const status = httpStatus(error);
      if (status !== null && status < 500) return false;
      throw new CodedError(
        'RUNTIME_UNAVAILABLE',
        `could not inspect image ${image}: ${loggedEngineReason(error, `inspect of ${image}`)}`,
        {
          image,
        },
      );
    }
  }

  private async pull(image: string, signal: AbortSignal | undefined): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new PullTimeoutError(this.timeoutSeconds)),
      this.timeoutSeconds * 1000,
    );
    const forwardAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', forwardAbort, { once: true });
    try {
      const stream = await this.docker.pull(image, { abortSignal: controller.signal });
      await this.followToEnd(stream, controller.signal);
    } catch (error) {
      // Report why we aborted rather than the generic AbortError the socket layer raises.
      if (controller.signal.aborted) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forwardAbort);
    }
  }

  /** Streams the pull to completion; the engine reports failures as an event inside the stream. */
  private followToEnd(stream: NodeJS.ReadableStream, abort: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        reject(abort.reason instanceof Error ? abort.reason : new Error('the pull was aborted'));
      };
      abort.addEventListener('abort', onAbort, { once: true });
      this.docker.modem.followProgress(stream, (error: Error | null, events: unknown[]) => {
        abort.removeEventListener('abort', onAbort);
        if (error) return reject(error);
        const failed = (events as ProgressEvent[]).find(
          (event) => event.error || event.errorDetail,
        );
        if (failed) return reject(new Error(progressMessage(failed)));
        resolve();
      });
    });
  }
}

function progressMessage(event: ProgressEvent): string {
  const detail = event.errorDetail?.message;
  if (typeof detail === 'string') return detail;
  return typeof event.error === 'string' ? event.error : 'the pull failed';
}

function unavailable(image: string, reason: string, cause?: unknown): CodedError {
  return new CodedError(
    'IMAGE_UNAVAILABLE',
    `image ${image} is not available locally and could not be pulled: ${reason}`,
    { image },
    { cause },
  );
}
