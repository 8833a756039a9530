import { Module } from '@nestjs/common';
import { DockerDeployment } from './docker-deployment';

/** Provides the Docker engine adapter. AppConfig comes from the global AppConfigModule. */
@Module({
  providers: [DockerDeployment],
  exports: [DockerDeployment],
})
export class DeploymentModule {}
