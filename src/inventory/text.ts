// Character checks shared by the value types: what may reach a configuration file or a
// command line on a host, and how an operator reads the character that may not.

/**
 * C0 and C1 control characters, DEL and the Unicode line and paragraph separators: each
 * can end a line in a file hapg or Patroni writes (PyYAML, for one, breaks lines at U+0085,
 * U+2028 and U+2029), or is invisible in a terminal.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

const NAMED: Record<string, string> = {
  '\n': 'a newline',
  '\r': 'a carriage return',
  '\t': 'a tab',
  '\0': 'a NUL character',
  ' ': 'a space',
};

/** How a message names one character: `a newline`, `a space`, `U+00A0`, `"$"`. */
export function describeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  if (CONTROL.test(c) || /\s/u.test(c)) return `the invisible character U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  return JSON.stringify(c);
}

/** The first control character in `value` (see CONTROL), if any. */
export function firstControlChar(value: string): string | undefined {
  return CONTROL.exec(value)?.[0];
}

/** The first character of `value` that is a control character or whitespace. */
export function firstControlOrSpace(value: string): string | undefined {
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]/u.exec(value)?.[0];
}

/** The first character of `value` that `allowed` (a one-character class) does not match. */
export function firstCharNotIn(value: string, allowed: RegExp): string | undefined {
  for (const c of value) if (!allowed.test(c)) return c;
  return undefined;
}
