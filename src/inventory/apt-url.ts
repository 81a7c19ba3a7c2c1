import { quote } from './quote.js';
import { describeChar, firstCharNotIn, firstControlOrSpace } from './text.js';

// The apt proxy and mirror URLs are written into apt's own files on every host, as root:
// `Acquire::http::Proxy "<url>";` (apt.conf) and `deb <url> bookworm main` (sources.list).
// `new URL()` silently drops tabs and newlines, so a URL that parses can still carry a second
// line into those files: an unsigned `deb [trusted=yes]` source, or an `APT::Update::Pre-Invoke`
// hook. A value is accepted only when it can mean nothing to apt but a URL, and what is
// written is the normalised URL itself, never the text as typed.

/** Characters with a meaning of their own in apt.conf or sources.list; `[`/`]` only around an IPv6 host. */
const APT_SYNTAX = /["'\\;{}[\]`#]/u;

const WHY: Record<string, string> = {
  '"': 'it would end the quoted value in apt.conf',
  "'": 'apt gives quotes a meaning of their own',
  '\\': 'apt gives backslashes a meaning of their own',
  ';': 'it would end the setting in apt.conf',
  '{': 'it would open a block in apt.conf',
  '}': 'it would close a block in apt.conf',
  '[': 'it would start source options in sources.list (such as trusted=yes)',
  ']': 'it would end source options in sources.list',
  '`': 'apt has no use for it in a URL',
  '#': 'apt reads the rest of the line as a comment',
};

/** `http://[2001:db8::1]:3142/x` → `http://:3142/x`: the one place brackets belong, taken out. */
function withoutIpv6Host(value: string): string {
  return value.replace(/^(https?:\/\/(?:[^@/?#[\]]*@)?)\[[0-9A-Fa-f:.]+\]/iu, '$1');
}

/** Why `value` cannot be the apt proxy or mirror, or undefined when it can. */
export function aptUrlProblem(value: string): string | undefined {
  const space = firstControlOrSpace(value);
  if (space !== undefined) {
    return `${quote(value)} contains ${describeChar(space)}: apt would read what follows as configuration of its own (a package source or a command run as root)`;
  }
  const syntax = firstCharNotIn(withoutIpv6Host(value), /[^"'\\;{}[\]`#]/u);
  if (syntax !== undefined && APT_SYNTAX.test(syntax)) {
    return `${quote(value)} contains ${describeChar(syntax)}, which apt cannot take in a URL: ${WHY[syntax] ?? 'it has a meaning of its own to apt'}`;
  }
  if (/%(?:[01][0-9a-f]|7f)/iu.test(value)) {
    return `${quote(value)} percent-encodes a control character: apt would decode it into its configuration`;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${quote(value)} is not an http:// or https:// URL`;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return `${quote(value)} is not an http:// or https:// URL`;
  return undefined;
}

/** The URL apt is given: `new URL(value).href` (lowercase host, a path of at least "/"). */
export function normalisedAptUrl(value: string): string {
  return new URL(value).href;
}
