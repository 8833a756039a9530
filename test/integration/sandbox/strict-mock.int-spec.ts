import { DockerDeployment } from '@app/deployment';
import { strictMock } from '../../support/strict-mock';

/** The harness's fakes are only as strict as this helper: check it fails where it should. */
describe('strictMock', () => {
  it('fails an unstubbed call, naming the class, the method and the arguments', () => {
    const deployment = strictMock(DockerDeployment);

    expect(() => deployment.containerName('sbx-1')).toThrow(
      'unexpected call: DockerDeployment.containerName("sbx-1")',
    );
  });

  it('has every method of the real class and none of its Nest lifecycle hooks', () => {
    const deployment = strictMock(DockerDeployment) as unknown as Record<string, unknown>;
    const hooks = ['onApplicationBootstrap', 'onModuleDestroy'];
    const methods = Object.getOwnPropertyNames(DockerDeployment.prototype).filter(
      (name) => name !== 'constructor' && !hooks.includes(name),
    );

    for (const name of methods) expect(jest.isMockFunction(deployment[name])).toBe(true);
    for (const hook of hooks) expect(deployment[hook]).toBeUndefined();
  });

  it('answers what the test stubbed', async () => {
    const deployment = strictMock(DockerDeployment);
    deployment.inspect.mockResolvedValue(null);

    await expect(deployment.inspect('x')).resolves.toBeNull();
  });
});
