import type { ServiceState } from '../facts/services.js';
import { noop, service, type FileStep, type PlanItem } from '../run/steps.js';

/**
 * What a service needs after its configuration files were planned: start (and enable) it when
 * not running; when running with changed files, reload or restart it; enable it when disabled.
 * Returns a noop that says why when the service is already as wanted.
 */
export function planServiceState(
  host: string,
  name: string,
  state: ServiceState | undefined,
  changedFiles: readonly FileStep[],
  onChange: 'reload' | 'restart',
): PlanItem[] {
  const items: PlanItem[] = [];
  const running = state?.active === 'active';
  const enabled = state?.enabled === 'enabled';
  if (!running) {
    items.push(service(host, name, 'started', true));
  } else if (changedFiles.length > 0) {
    items.push(service(host, name, onChange === 'reload' ? 'reloaded' : 'restarted', enabled ? undefined : true));
  } else if (!enabled) {
    items.push({ kind: 'exec', host, title: `enable ${name}`, argv: ['systemctl', 'enable', '--quiet', `${name}.service`] });
  }
  if (items.length === 0) items.push(noop(host, `${name} running, configuration unchanged`));
  return items;
}
