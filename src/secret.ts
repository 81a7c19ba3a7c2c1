import { inspect } from 'node:util';

const MASK = '***';

/**
 * A password or key that must never reach output, logs or plans. It prints as `***`
 * everywhere; only `reveal()` (called by the step that writes it to a host) returns the value.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return MASK;
  }
}

/** Replaces every occurrence of each secret's value in `text` with `***`. */
export function maskSecrets(text: string, secrets: Iterable<Secret | string>): string {
  let out = text;
  for (const s of secrets) {
    const value = typeof s === 'string' ? s : s.reveal();
    if (value.length >= 3) out = out.split(value).join(MASK);
  }
  return out;
}
