import { Module } from '@nestjs/common';
import { DockerDeployment } from './docker-deployment';
import { SwarmFacts } from './swarm-facts';
import { EngineFacts } from './engine-facts';

/** Provides the Docker engine adapter. Its config slices come from the global AppConfigModule. */
@Module({
  providers: [DockerDeployment, EngineFacts, SwarmFacts],
  exports: [DockerDeployment, EngineFacts, SwarmFacts],
})
export class DeploymentModule {}
