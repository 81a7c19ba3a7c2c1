import { describe, expect, it } from 'vitest';
import { inventoryJsonSchema } from '../../src/inventory/json-schema.js';

type Json = Record<string, any>;

describe('inventoryJsonSchema', () => {
  const schema = inventoryJsonSchema() as Json;

  it('is a JSON Schema object describing the inventory', () => {
    expect(typeof schema).toBe('object');
    expect(schema['$schema']).toMatch(/json-schema\.org/);
    expect(schema['type']).toBe('object');
    expect(schema['properties']).toHaveProperty('clusters');
    expect(schema['properties']).toHaveProperty('hosts');
    expect(schema['additionalProperties']).toBe(false);
  });

  it('leaves keys with defaults optional (input side) and requires the rest', () => {
    expect(schema['required']).toEqual(expect.arrayContaining(['hosts', 'etcd', 'clusters']));
    expect(schema['required']).not.toContain('ssh');
    const cluster = schema['properties'].clusters.additionalProperties as Json;
    expect(cluster['required']).toEqual(['hosts']);
    expect(cluster['properties'].postgres.properties.version.default).toBe(17);
  });

  it('carries name patterns and descriptions for editors', () => {
    expect(schema['properties'].hosts.propertyNames.pattern).toBeDefined();
    expect(schema['properties'].hosts.description).toMatch(/member name/);
  });

  it('serialises to JSON', () => {
    expect(() => JSON.parse(JSON.stringify(schema))).not.toThrow();
  });
});
