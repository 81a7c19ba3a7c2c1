// The inventory: one schema, its loader, and what other layers derive from it.
export { checkInventory } from './cross-checks.js';
export { defaultSecretsFile, defaultStandbySlot, patroniScope } from './defaults.js';
export { formatPath, InventoryError, type InventoryIssue, type InventoryWarning, type PathSegment } from './issues.js';
export { inventoryJsonSchema } from './json-schema.js';
export { type LoadedInventory, loadInventory, parseInventory } from './load.js';
export type { SecretRef } from './primitives.js';
export { type Cluster, type EtcdCluster, type Host, type Inventory, InventorySchema } from './schema.js';
export { CLUSTER_SECRETS, clusterSecretKey, type InventorySecrets, resolveSecrets, secretsFilePath, userSecretKey } from './secrets.js';
export { sshTargets } from './ssh-targets.js';
