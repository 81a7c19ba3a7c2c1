import { fileMatches, type RemoteFileState } from '../../facts/files.js';
import type { ServiceState } from '../../facts/services.js';
import type { DesiredState } from '../../model/model.js';
import { renderTemplate } from '../../render/templates.js';
import { file, type FileStep, type PlanItem } from '../../run/steps.js';
import { planServiceState } from '../service-plan.js';
import { KEEPALIVED_CONFIG_PATH, keepalivedContext } from './context.js';

export function keepalivedFile(model: DesiredState, host: string): FileStep {
  return file(host, KEEPALIVED_CONFIG_PATH, renderTemplate('keepalived/keepalived.conf', keepalivedContext(model, host)));
}

/** keepalived: started, or reloaded when its configuration changed. */
export function planKeepalivedHost(model: DesiredState, host: string, facts: { file: RemoteFileState | null | undefined; service: ServiceState | undefined }): PlanItem[] {
  const cfg = keepalivedFile(model, host);
  const changed = fileMatches(facts.file, cfg) ? [] : [cfg];
  return [...changed, ...planServiceState(host, 'keepalived', facts.service, changed, 'reload')];
}
