import { describe, expect, it } from 'vitest';
import { AptUrl } from '../../src/inventory/primitives.js';

// packages.apt_proxy and packages.mirror are written into apt.conf (`Acquire::http::Proxy "…";`)
// and sources.list (`deb … bookworm main`) on every host, as root.
function problem(value: string): string | undefined {
  const result = AptUrl.safeParse(value);
  return result.success ? undefined : result.error.issues[0]?.message;
}

describe('AptUrl', () => {
  it.each([
    ['http://192.0.2.1:3142', 'http://192.0.2.1:3142/'],
    ['http://Proxy.Example.NET:3142', 'http://proxy.example.net:3142/'],
    ['https://deb.example.net/debian', 'https://deb.example.net/debian'],
    ['http://[2001:DB8::1]:3142', 'http://[2001:db8::1]:3142/'],
    ['http://user:p%40ss@proxy:3142/', 'http://user:p%40ss@proxy:3142/'],
  ])('accepts %s and outputs the normalised %s', (input, output) => {
    expect(AptUrl.parse(input)).toBe(output);
  });

  it.each([
    ['a newline before a deb line', 'http://deb.example.net/debian\ndeb [trusted=yes] http://203.0.113.66/debian', 'a newline'],
    // new URL() drops the newline and percent-encodes the quotes: this parses as a URL.
    ['a newline before a Pre-Invoke hook', 'http://proxy:3142/";\nAPT::Update::Pre-Invoke {"id";};\n//', 'a newline'],
    ['a carriage return', 'http://proxy:3142\r', 'a carriage return'],
    ['a tab', 'http://proxy:3142/\tx', 'a tab'],
    ['a NUL', 'http://proxy:3142/\u0000', 'a NUL character'],
    ['a Unicode line separator', 'http://proxy:3142/\u2028x', 'U+2028'],
    ['a space', 'http://proxy:3142 x', 'a space'],
    ['a double quote', 'http://proxy:3142/"', '"\\""'],
    ['a single quote', "http://proxy:3142/'", `"'"`],
    ['a backslash', 'http://proxy:3142/\\x', '"\\\\"'],
    ['a semicolon', 'http://proxy:3142/;x', '";"'],
    ['a brace', 'http://proxy:3142/{x}', '"{"'],
    ['a bracket outside an IPv6 host', 'http://proxy:3142/[trusted=yes]', '"["'],
    ['a bracket after an IPv6 host', 'http://[2001:db8::1]/]', '"]"'],
    ['a comment sign', 'http://deb.example.net/debian#x', '"#"'],
    ['a percent-encoded newline', 'http://deb.example.net/debian%0a', 'percent-encodes a control character'],
  ])('rejects %s', (_what, input, named) => {
    const message = problem(input);
    expect(message).toBeDefined();
    expect(message).toContain(named);
    expect(message).not.toContain('\n');
  });

  it.each(['192.0.2.1:3142', 'ftp://deb.example.net/debian', 'file:///srv/debian', 'http://'])('rejects %s as no http(s) URL', (input) => {
    expect(problem(input)).toMatch(/is not an http:\/\/ or https:\/\/ URL$/);
  });
});
