import { Module } from '@nestjs/common';
import { DockerDeployment } from './docker-deployment';
import { EngineFacts } from './engine-facts';

/** Provides the Docker engine adapter. Its config slices come from the global AppConfigModule. */
@Module({
  providers: [DockerDeployment, EngineFacts],
  exports: [DockerDeployment, EngineFacts],
})
export class DeploymentModule {}
