import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

/** templates/ at the package root (the same from src/ under vitest and from dist/ when built). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

const engine = Handlebars.create();
const compiled = new Map<string, Handlebars.TemplateDelegate>();

/**
 * Renders `templates/<name>.hbs` with a context a typed builder computed. Strict: a missing
 * value is an error, never an empty string; no HTML escaping (these are config files).
 */
export function renderTemplate(name: string, context: object): string {
  let template = compiled.get(name);
  if (!template) {
    const source = readFileSync(`${TEMPLATES_DIR}${name}.hbs`, 'utf8');
    template = engine.compile(source, { strict: true, noEscape: true });
    compiled.set(name, template);
  }
  return template(context);
}
