// How a message shows a value from the inventory.

/** Renders a scalar for a message; anything else is described by its type. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return visible(JSON.stringify(value.length > 80 ? `${value.slice(0, 79)}…` : value));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeType(value);
}

/** JSON escapes C0 controls only: DEL, C1 controls and U+2028/9 are escaped too, so a message stays one visible line. */
function visible(json: string): string {
  return json.replace(/[\u007f-\u009f\u2028\u2029]/gu, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/** "a string", "a list", "nothing" …: how an operator would name a YAML value's type. */
export function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}
