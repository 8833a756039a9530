import type { SecretsKeyring } from '../secrets/secrets-keyring';
import { CreateSandboxTables1795812944656 } from './1795812944656-CreateSandboxTables';
import { AddLifecycleDeadlines1795815322931 } from './1795815322931-AddLifecycleDeadlines';
import { AddResourceColumns1795816735854 } from './1795816735854-AddResourceColumns';
import { AddLabelContainmentIndex1795818000000 } from './1795818000000-AddLabelContainmentIndex';
import { sealEnvValuesMigration } from './1796183903821-SealEnvValues';
import { BackfillStoredBlobs1796200000000 } from './1796200000000-BackfillStoredBlobs';
import { BackfillMachineFailure1796300000000 } from './1796300000000-BackfillMachineFailure';
import { AddSandboxTenant1796412000000 } from './1796412000000-AddSandboxTenant';
import { CreateTenantLimits1796412000001 } from './1796412000001-CreateTenantLimits';
import { AddSandboxAccessTokens1796500000000 } from './1796500000000-AddSandboxAccessTokens';
import { CreateApiKeyTable1796600000000 } from './1796600000000-CreateApiKeyTable';
import { BackfillSandboxNetwork1796700000000 } from './1796700000000-BackfillSandboxNetwork';
import { CreateEventTables1796800000000 } from './1796800000000-CreateEventTables';
import { CreateResourceUsage1796910000000 } from './1796910000000-CreateResourceUsage';
import { CreateUsageHold1796920000000 } from './1796920000000-CreateUsageHold';
import { AddClusterNodes1797000000000 } from './1797000000000-AddClusterNodes';
import type { MigrationClass } from './1796183903821-SealEnvValues';

/**
 * The schema migrations, in order; listed as classes (no globs) because the app is bundled by
 * webpack. The migrations that need the secrets key are added by metaStoreMigrations.
 */
export const META_STORE_MIGRATIONS = [
  CreateSandboxTables1795812944656,
  AddLifecycleDeadlines1795815322931,
  AddResourceColumns1795816735854,
  AddLabelContainmentIndex1795818000000,
];

/**
 * Every migration, those that seal stored values made with the service's keyring; the back-fill
 * of the info and spec blobs runs after the sealing, which rewrites the spec.
 */
export function metaStoreMigrations(keyring: SecretsKeyring): MigrationClass[] {
  return [
    ...META_STORE_MIGRATIONS,
    sealEnvValuesMigration(keyring),
    BackfillStoredBlobs1796200000000,
    BackfillMachineFailure1796300000000,
    AddSandboxTenant1796412000000,
    CreateTenantLimits1796412000001,
    AddSandboxAccessTokens1796500000000,
    CreateApiKeyTable1796600000000,
    BackfillSandboxNetwork1796700000000,
    CreateEventTables1796800000000,
    CreateResourceUsage1796910000000,
    CreateUsageHold1796920000000,
    AddClusterNodes1797000000000,
  ];
}
