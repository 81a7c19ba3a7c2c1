/** A YAML scalar for any string: JSON's double-quoted form is valid YAML and needs no other escaping. */
export function yamlString(value: string): string {
  return JSON.stringify(value);
}

/** A YAML scalar for a PostgreSQL parameter or Patroni setting value. */
export function yamlValue(value: string | number | boolean): string {
  return typeof value === 'string' ? yamlString(value) : String(value);
}

/** `{name, value}` pairs in key order, for templates that list settings. */
export function yamlPairs(record: Record<string, string | number | boolean>): { name: string; value: string }[] {
  return Object.keys(record)
    .sort()
    .map((name) => ({ name, value: yamlValue(record[name] as string | number | boolean) }));
}
