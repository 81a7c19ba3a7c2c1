import type { z } from 'zod';
import { checkInventory } from './cross-checks.js';
import { type CompleteInventory, completeInventory } from './defaults.js';
import type { RawInventory } from './schema.js';

/** Last stage of InventorySchema: fills the cross-field defaults, then reports every cross-check error. */
export function finishInventory(raw: RawInventory, ctx: z.core.$RefinementCtx<RawInventory>): CompleteInventory {
  const { inventory, findings } = completeInventory(raw);
  const errors = [...findings, ...checkInventory(inventory).errors];
  for (const { path, message, alternative } of errors) {
    ctx.addIssue({ code: 'custom', path, message, input: undefined, params: alternative ? { alternative } : undefined });
  }
  return inventory;
}
