import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './issues.js';

/**
 * Maps an inventory path to its 1-based line, so every message can say where to look. With
 * `exact`, a path that is not written in the file (a default) gives undefined.
 */
export type Locator = (path: readonly PathSegment[], opts?: { exact?: boolean }) => number | undefined;

/**
 * The line of the node at `path`: of the key for a mapping entry, of the item for a list
 * entry. When the path does not exist (a missing key), the line of its deepest existing parent.
 */
export function createLocator(doc: Document, lineCounter: LineCounter): Locator {
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Node | null | undefined)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  return (path, opts = {}) => {
    const missing = (line: number) => (opts.exact ? undefined : line);
    let node: unknown = doc.contents;
    let line = lineOf(node) ?? 1;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => keyText(p.key) === String(segment));
        if (!pair) return missing(line);
        line = lineOf(pair.key) ?? lineOf(pair.value) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) return missing(line);
        line = lineOf(item) ?? line;
        node = item;
      } else {
        return missing(line);
      }
    }
    return line;
  };
}

/** The text of a mapping key as toJS would name it (scalars only). */
export function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return undefined;
  if (typeof key === 'string' || typeof key === 'number' || typeof key === 'boolean') return String(key);
  return undefined;
}
