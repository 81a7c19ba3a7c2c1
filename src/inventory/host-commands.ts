import { quote } from './quote.js';
import { describeChar, firstCharNotIn, firstControlChar } from './text.js';

// Commands the inventory hands to programs on the hosts. Each ends up in a file first:
// patroni.yml (callbacks), then postgresql.conf, which Patroni writes as `name = '<value>'`,
// doubling quotes and backslashes. A line break survives that quoting and leaves the file
// unreadable, so no command may hold a control character; the rest depends on who runs it.

/** Characters a callback may hold: Patroni splits it at spaces and runs it without a shell. */
const CALLBACK_CHAR = /[A-Za-z0-9._+@/=,:%\- ]/u;

/** Why `command` cannot be a Patroni callback, or undefined. */
export function callbackProblem(command: string): string | undefined {
  const control = firstControlChar(command);
  if (control !== undefined) return `${quote(command)} contains ${describeChar(control)}: a callback is one command on one line`;
  if (!command.startsWith('/')) return 'must be a command starting with an absolute path (Patroni runs it from its own directory)';
  const bad = firstCharNotIn(command, CALLBACK_CHAR);
  if (bad !== undefined) {
    return `${quote(command)} contains ${describeChar(bad)}: Patroni runs callbacks without a shell (it splits the command at spaces and adds the action, role and cluster), so shell syntax would reach the program as text; put it in a script and give the script's path`;
  }
  if (/ {2}| $/u.test(command)) return `${quote(command)} has repeated or trailing spaces: separate the words with one space`;
  return undefined;
}

/** Why `command` cannot be a standby cluster's restore_command, or undefined. */
export function restoreCommandProblem(command: string): string | undefined {
  const control = firstControlChar(command);
  if (control !== undefined) {
    return `${quote(command)} contains ${describeChar(control)}: Patroni writes restore_command on one line of postgresql.conf, which PostgreSQL could not read`;
  }
  for (const [placeholder, letter] of command.matchAll(/%([\s\S]?)/gu)) {
    if (!letter || !'fpr%'.includes(letter)) {
      return `${quote(command)} contains ${quote(placeholder)}: PostgreSQL replaces only %f, %p, %r and %% in restore_command (and from version 16 refuses any other "%"); write a literal "%" as %%`;
    }
  }
  return undefined;
}

/** Why `value` cannot be a postgresql.conf parameter value, or undefined. */
export function parameterValueProblem(value: string): string | undefined {
  const control = firstControlChar(value);
  if (control === undefined) return undefined;
  return `${quote(value)} contains ${describeChar(control)}: Patroni writes each value quoted on one line of postgresql.conf, and a line break there leaves the file unreadable, so every member would fail at its next restart (quotes, backslashes and "$" are fine: Patroni escapes them)`;
}
