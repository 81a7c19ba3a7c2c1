import { z } from 'zod';
import { InventorySchema } from './schema.js';

/** JSON Schema of the inventory as written (defaults optional), for editor autocompletion. */
export function inventoryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(InventorySchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'hapg inventory' };
}
