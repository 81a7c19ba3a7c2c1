import type { LabRelease } from '../../src/lab/releases.js';

/** What the e2e global setup hands to every lab test through vitest's provide/inject. */
export interface LabContext {
  /** Inventory written by `hapg lab up` for the shared lab. */
  inventoryPath: string;
  /** Lab hosts in order (pg1, pg2, …). */
  hosts: { name: string; address: string; datacenter: string }[];
  user: string;
  identityFile: string;
  knownHosts: string;
  /** Address of the lab bridge on the control machine. */
  bridgeAddress: string;
  /** Debian release of every host of the lab. */
  release: LabRelease;
}

declare module 'vitest' {
  export interface ProvidedContext {
    lab: LabContext;
    /** The lab of bookworm hosts beside `lab` (the Debian 12 tests). */
    labBookworm?: LabContext;
  }
}
