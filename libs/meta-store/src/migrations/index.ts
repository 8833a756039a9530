import { CreateSandboxTables1795812944656 } from './1795812944656-CreateSandboxTables';
import { AddLifecycleDeadlines1795815322931 } from './1795815322931-AddLifecycleDeadlines';
import { AddResourceColumns1795816735854 } from './1795816735854-AddResourceColumns';
import { AddLabelContainmentIndex1795818000000 } from './1795818000000-AddLabelContainmentIndex';

/** In order; listed as classes (no globs) because the app is bundled by webpack. */
export const META_STORE_MIGRATIONS = [
  CreateSandboxTables1795812944656,
  AddLifecycleDeadlines1795815322931,
  AddResourceColumns1795816735854,
  AddLabelContainmentIndex1795818000000,
];
