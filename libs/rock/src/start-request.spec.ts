import { toCreateInput } from './start-request';

/** The body ROCK's SDK 1.11 sends with its defaults (captured on the wire). */
const SDK_BODY = {
  image: 'python:3.11',
  image_os: 'linux',
  auto_clear_time: 5,
  auto_clear_time_minutes: 5,
  startup_timeout: 30.0,
  memory: '8g',
  cpus: 2,
  num_gpus: null,
  accelerator_type: null,
  registry_username: null,
  registry_password: null,
  use_kata_runtime: false,
  limit_cpus: null,
  sandbox_id: null,
  auto_archive_seconds: null,
  auto_delete_seconds: null,
  disk: '50G',
};

describe('toCreateInput', () => {
  it('should map the SDK defaults onto /v1 create input, ignoring GPU, registry and OS fields', () => {
    expect(toCreateInput(SDK_BODY, {}, ['runc'])).toEqual({
      image: 'python:3.11',
      cpus: 2,
      memory: '8g',
      disk: '50G',
      idleTimeoutSeconds: 300,
    });
  });

  it('should keep the owner headers as labels and the chosen id as the name', () => {
    const input = toCreateInput(
      { ...SDK_BODY, sandbox_id: 'my-box', auto_delete_seconds: 0 },
      { 'x-user-id': 'u1', 'x-experiment-id': 'e1', 'x-namespace': 'n1', 'x-cluster': 'c' },
      ['runc'],
    );
    expect(input).toMatchObject({
      name: 'my-box',
      autoDeleteSeconds: 0,
      labels: { 'rock/user-id': 'u1', 'rock/experiment-id': 'e1', 'rock/namespace': 'n1' },
    });
  });

  it('should map use_kata_runtime to an allowed kata runtime, and refuse it without one', () => {
    expect(
      toCreateInput({ ...SDK_BODY, use_kata_runtime: true }, {}, ['runc', 'kata-runtime']).runtime,
    ).toBe('kata-runtime');
    expect(() => toCreateInput({ ...SDK_BODY, use_kata_runtime: true }, {}, ['runc'])).toThrow(
      /use_kata_runtime: no kata runtime/,
    );
  });

  it.each([
    [{ memory: 'lots' }, /memory/],
    [{ memory: '1k' }, /memory/],
    [{ cpus: 0 }, /cpus/],
    [{ image: '   ' }, /image: must not be blank/],
    [{ image: 'Not An Image' }, /image/],
    [{ sandbox_id: 'a/b' }, /sandbox_id/],
    [{ auto_clear_time_minutes: 1.5 }, /auto_clear_time_minutes/],
    [{ auto_delete_seconds: -1 }, /auto_delete_seconds/],
    [{ auto_archive_seconds: 60 }, /archiving is not supported/],
  ])('should refuse %j naming the field', (patch, message) => {
    expect(() => toCreateInput({ ...SDK_BODY, ...patch }, {}, ['runc'])).toThrow(message);
  });

  it('should refuse a body that is not an object', () => {
    expect(() => toCreateInput([1], {}, ['runc'])).toThrow(/JSON object/);
    expect(() => toCreateInput(null, {}, ['runc'])).toThrow(/JSON object/);
  });
});
