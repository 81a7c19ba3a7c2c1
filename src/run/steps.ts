import type { Secret } from '../secret.js';

/**
 * Steps are data: tasks return them, the executor alone runs them. `host` is the
 * inventory host name. `title` is what progress output and `plan` show.
 */
export type Step = ExecStep | FileStep | ServiceStep | HttpStep;

interface StepBase {
  host: string;
  title: string;
}

export interface ExecStep extends StepBase {
  kind: 'exec';
  argv: string[];
  sudo?: boolean;
  user?: string;
  stdin?: string;
  secrets?: Secret[];
  timeoutMs?: number;
}

export interface FileStep extends StepBase {
  kind: 'file';
  path: string;
  content: string;
  mode: number;
  owner: string;
  group: string;
  /** Values inside `content` that must be masked in plans and diffs. */
  secrets?: Secret[];
}

export interface ServiceStep extends StepBase {
  kind: 'service';
  name: string;
  state: 'started' | 'stopped' | 'restarted' | 'reloaded';
  enabled?: boolean;
}

export interface HttpStep extends StepBase {
  kind: 'http';
  port: number;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  basicAuth?: { user: string; password: Secret };
  expectStatus?: number[];
}

/** A task's answer when nothing needs to change: no steps, and why. */
export interface Noop {
  kind: 'noop';
  host: string;
  reason: string;
}

export type PlanItem = Step | Noop;

export const noop = (host: string, reason: string): Noop => ({ kind: 'noop', host, reason });

export const exec = (host: string, title: string, argv: string[], extra: Partial<ExecStep> = {}): ExecStep => ({
  kind: 'exec',
  host,
  title,
  argv,
  ...extra,
});

export const file = (
  host: string,
  path: string,
  content: string,
  opts: { mode?: number; owner?: string; group?: string; secrets?: Secret[]; title?: string } = {},
): FileStep => ({
  kind: 'file',
  host,
  title: opts.title ?? `write ${path}`,
  path,
  content,
  mode: opts.mode ?? 0o644,
  owner: opts.owner ?? 'root',
  group: opts.group ?? opts.owner ?? 'root',
  ...(opts.secrets ? { secrets: opts.secrets } : {}),
});

export const service = (
  host: string,
  name: string,
  state: ServiceStep['state'],
  enabled?: boolean,
): ServiceStep => ({
  kind: 'service',
  host,
  title: `${state === 'started' ? 'start' : state === 'stopped' ? 'stop' : state === 'restarted' ? 'restart' : 'reload'} ${name}`,
  name,
  state,
  ...(enabled === undefined ? {} : { enabled }),
});

export const isNoop = (item: PlanItem): item is Noop => item.kind === 'noop';
