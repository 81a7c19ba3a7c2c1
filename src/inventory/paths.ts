import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';

/** Directory relative paths in an inventory are resolved against: the inventory file's own. */
export function inventoryDir(inventoryPath: string): string {
  return dirname(resolve(inventoryPath));
}

/** A control-machine path from the inventory: `~` expanded, relative to the inventory's directory. */
export function localPath(path: string, baseDir: string, home: string = homedir()): string {
  const expanded = path === '~' ? home : path.startsWith('~/') ? `${home}${path.slice(1)}` : path;
  return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
}
