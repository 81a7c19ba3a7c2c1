import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { DesiredState } from '../../model/model.js';
import { renderTemplate } from '../../render/templates.js';
import { exec, file, type FileStep, type PlanItem } from '../../run/steps.js';
import { planServiceState } from '../service-plan.js';
import { HAPROXY_CONFIG_PATH, haproxyContext } from './context.js';

export function haproxyFile(model: DesiredState, host: string): FileStep {
  return file(host, HAPROXY_CONFIG_PATH, renderTemplate('haproxy/haproxy.cfg', haproxyContext(model, host)));
}

/**
 * A changed configuration is checked with `haproxy -c` before it is written, then applied by
 * a reload (the master process hands listeners over: established sessions stay up).
 */
export function planHaproxyHost(model: DesiredState, host: string, facts: { file: RemoteFileState | null | undefined; service: ServiceState | undefined }): PlanItem[] {
  const cfg = haproxyFile(model, host);
  const changed = fileMatches(facts.file, cfg) ? [] : [cfg];
  return [
    // Checked before it replaces the running configuration: a bad file never lands.
    ...(changed.length ? [exec(host, 'check the new haproxy.cfg', ['haproxy', '-c', '-q', '-f', '/dev/stdin'], { stdin: cfg.content })] : []),
    ...changed,
    ...planServiceState(host, 'haproxy', facts.service, changed, 'reload'),
  ];
}
