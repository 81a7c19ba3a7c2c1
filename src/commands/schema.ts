import type { Command } from 'commander';
import { inventoryJsonSchema } from '../inventory/json-schema.js';

/** `hapg schema`: the inventory's JSON Schema, for editor completion and validation. */
export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the inventory (for editors: yaml-language-server $schema)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`);
    });
}
