import { HapgError } from '../errors.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Included in the timeout error: which host or cluster was waited for. */
  host?: string;
}

/**
 * Polls `probe` until it reports done. On timeout, raises CLUSTER_UNHEALTHY with what was
 * awaited and the last thing the probe saw, so the operator knows where it stuck.
 */
export async function waitUntil(what: string, probe: () => Promise<{ done: boolean; status: string }>, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 1000;
  let last = 'no answer yet';
  for (;;) {
    try {
      const { done, status } = await probe();
      last = status;
      if (done) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) {
      throw new HapgError('CLUSTER_UNHEALTHY', `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${what}: ${last}`, {
        ...(opts.host ? { host: opts.host } : {}),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
