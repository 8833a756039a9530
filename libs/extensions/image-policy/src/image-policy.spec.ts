import { loadConfig } from '@app/config';
import { isCodedError } from '@app/domain';
import { ImagePolicy } from './image-policy';

const SYSTEM = { kind: 'system', tenant: null, keyId: null } as const;

function policy(allowed: string | undefined): ImagePolicy {
  return new ImagePolicy(
    loadConfig(allowed === undefined ? {} : { ALLOWED_IMAGES: allowed }).events,
  );
}

function refusal(p: ImagePolicy, image: string): unknown {
  try {
    p.admit({
      action: 'create',
      actor: SYSTEM,
      image,
      name: null,
      labels: {},
      cpus: null,
      memoryBytes: null,
      runtime: 'runc',
    });
    return null;
  } catch (error) {
    return error;
  }
}

describe(ImagePolicy.name, () => {
  it('admits every image while ALLOWED_IMAGES is unset', () => {
    expect(refusal(policy(undefined), 'anything/at:all')).toBeNull();
  });

  it('admits the images a pattern matches, in any spelling of Docker Hub', () => {
    const p = policy('sandboxd/*,python:3.*,alpine');
    for (const image of [
      'sandboxd/demo:latest',
      'sandboxd/demo',
      'python:3.12-slim',
      'alpine',
      'alpine:latest',
      'docker.io/library/alpine:latest',
    ]) {
      expect([image, refusal(p, image)]).toEqual([image, null]);
    }
  });

  it('refuses any other image with 403 IMAGE_NOT_ALLOWED naming it', () => {
    const p = policy('sandboxd/*,python:3.*');
    for (const image of [
      'ubuntu:24.04',
      'sandboxd/demo/nested:1',
      'python:2.7',
      'evil.io/sandboxd/x',
    ]) {
      const error = refusal(p, image);
      expect(isCodedError(error) && error.code).toBe('IMAGE_NOT_ALLOWED');
      expect(isCodedError(error) && error.details).toMatchObject({ image });
    }
  });

  it('matches ** across path segments and ? as one character', () => {
    const p = policy('registry.local:5000/**,busybox:1.3?');
    expect(refusal(p, 'registry.local:5000/team/app/worker:v2')).toBeNull();
    expect(refusal(p, 'busybox:1.36')).toBeNull();
    expect(refusal(p, 'busybox:1.360')).not.toBeNull();
  });
});
