import { Module } from '@nestjs/common';
import { DeploymentModule } from '@app/deployment';
import { MetaStoreModule } from '@app/meta-store';
import { ClusterDirectory } from './cluster-directory';
import { ClusterPlacement } from './cluster-placement';
import { RemoteCreate } from './remote-create';

/** Cluster mode (CLUSTER=swarm): the node table and heartbeat, placement, calls between instances. */
@Module({
  imports: [DeploymentModule, MetaStoreModule],
  providers: [ClusterDirectory, ClusterPlacement, RemoteCreate],
  exports: [ClusterDirectory, ClusterPlacement, RemoteCreate],
})
export class ClusterModule {}
