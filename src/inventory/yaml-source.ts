import { type Document, isAlias, isMap, isSeq, LineCounter, parseDocument, visit, type YAMLError } from 'yaml';
import type { PathSegment } from './issues.js';
import { createLocator, keyText, type Locator } from './locate.js';
import { isUnrepeatableKey } from './secret-paths.js';

/** A problem found while reading the YAML itself; it carries its own line. */
export interface YamlProblem {
  path: PathSegment[];
  message: string;
  line: number | undefined;
}

export interface YamlSource {
  /** The plain data, or undefined when the YAML could not be read. */
  data: unknown;
  locate: Locator;
  problems: YamlProblem[];
}

const MAX_ALIASES = 100;

/** Parses an inventory's YAML keeping positions; syntax errors, duplicate keys and bad aliases become problems. */
export function readYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, merge: true, prettyErrors: true });
  const locate = createLocator(doc, lineCounter);
  const problems: YamlProblem[] = [...doc.errors, ...doc.warnings].map((e) => ({
    path: [],
    message: yamlErrorMessage(e),
    line: e.linePos?.[0].line,
  }));
  if (problems.length > 0) return { data: undefined, locate, problems };

  problems.push(...keyProblems(doc, lineCounter), ...unresolvedAliases(doc, lineCounter));
  if (problems.length > 0) return { data: undefined, locate, problems };

  if (doc.contents === null) {
    return { data: undefined, locate, problems: [{ path: [], message: 'the file is empty: an inventory defines hosts, etcd and clusters', line: 1 }] };
  }
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIASES }), locate, problems };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { data: undefined, locate, problems: [{ path: [], message: `YAML error: ${message}`, line: undefined }] };
  }
}

/** One line from a yaml error: its message without the position and the excerpt. */
function yamlErrorMessage(error: YAMLError): string {
  if (error.code === 'MULTIPLE_DOCS') return 'the file holds several YAML documents (---): an inventory is a single document';
  if (error.code === 'TAG_RESOLVE_FAILED') {
    const tag = /Unresolved tag: (\S+)/.exec(error.message)?.[1] ?? 'tag';
    return `unsupported YAML tag ${tag}: hapg reads plain YAML (decrypt or render the file first)`;
  }
  return `YAML syntax error: ${firstLine(error.message)}`;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?\s*$/, '').trim();
}

/** Duplicate keys, and `__proto__`, which JavaScript objects cannot hold as data. */
function keyProblems(doc: Document, lineCounter: LineCounter): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined) =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;

  const walk = (node: unknown, path: PathSegment[]) => {
    if (isMap(node)) {
      const firstLineOfKey = new Map<string, number | undefined>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key === undefined || key === '<<') continue;
        const keyNode = pair.key as { range?: [number, number, number] | null } | null;
        if (key === '__proto__') {
          problems.push({ path, message: 'the key "__proto__" is not allowed', line: lineOf(keyNode) });
        } else if (firstLineOfKey.has(key)) {
          const first = firstLineOfKey.get(key);
          const named = isUnrepeatableKey(path, key) ? 'duplicate key' : `duplicate key "${key}"`;
          problems.push({
            path,
            message: `${named}${first === undefined ? '' : ` (first on line ${first})`}: keep only one`,
            line: lineOf(keyNode),
          });
        } else {
          firstLineOfKey.set(key, lineOf(keyNode));
          walk(pair.value, [...path, key]);
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(doc.contents, []);
  return problems;
}

function unresolvedAliases(doc: Document, lineCounter: LineCounter): YamlProblem[] {
  const problems: YamlProblem[] = [];
  visit(doc, {
    Alias(_, node) {
      if (isAlias(node) && node.resolve(doc) === undefined) {
        problems.push({
          path: [],
          message: `YAML alias *${node.source} refers to no anchor &${node.source} defined before it`,
          line: node.range ? lineCounter.linePos(node.range[0]).line : undefined,
        });
      }
    },
  });
  return problems;
}
