// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { AppConfigModule, LOADED_CONFIG, loadConfig } from '@app/config';
import { DeploymentModule, DockerDeployment } from '@app/deployment';
import { Test } from '@nestjs/testing';
import { testDockerSocketPath } from '../../support/docker';

describe('DeploymentModule', () => {
  it('provides a DockerDeployment wired to the global DockerConfig', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [AppConfigModule, DeploymentModule],
    })
      .overrideProvider(LOADED_CONFIG)
      .useValue(loadConfig({ DOCKER_SOCKET_PATH: testDockerSocketPath() }))
      .compile();
    try {
      const deployment = moduleRef.get(DockerDeployment);
      await expect(deployment.ping()).resolves.toBeUndefined();
      expect(deployment.containerName('abc')).toBe('sandboxd-abc');
    } finally {
      await moduleRef.close();
    }
  });

  it('talks to the engine the given DockerConfig names, not a default one', async () => {
    const socket = '/tmp/sandboxd-module-spec-no-such.sock';
    const moduleRef = await Test.createTestingModule({
      imports: [AppConfigModule, DeploymentModule],
    })
      .overrideProvider(LOADED_CONFIG)
      .useValue(loadConfig({ DOCKER_SOCKET_PATH: socket }))
      .compile();
    try {
      await expect(moduleRef.get(DockerDeployment).ping()).rejects.toMatchObject({
        code: 'RUNTIME_UNAVAILABLE',
        message: expect.stringContaining(socket),
      });
    } finally {
      await moduleRef.close();
    }
  });
});
