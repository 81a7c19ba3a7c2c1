// Watches the roles members report, as any client could: the proof that a standby cluster
// never passed through a leader state.
import { patroniGet } from './hapg.js';
import type { LabContext } from './lab-context.js';

/**
 * Polls every member's REST API (as any client could) and records each role it reports. It
 * is armed once every member has been seen down: from then on a leader role is a violation.
 * Armed from the start, it watches a bootstrap on bare hosts.
 */
export class RoleWatcher {
  readonly seen: { at: number; host: string; role: string }[] = [];
  polls = 0;
  #armed: boolean;
  #down = new Set<string>();
  #running = true;
  #loop: Promise<void>;
  /** `ca`: the CA of a TLS cluster (the default), or how to read it once a deploy made it; its REST API answers HTTPS only. */
  constructor(readonly lab: LabContext, readonly hosts: string[], armed: boolean, readonly ca?: string | (() => Promise<string | undefined>)) {
    this.#armed = armed;
    this.#loop = (async () => {
      while (this.#running) {
        await Promise.all(hosts.map((h) => this.#poll(h)));
        this.polls++;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
  }
  async #poll(host: string): Promise<void> {
    const ca = typeof this.ca === 'function' ? await this.ca().catch(() => undefined) : this.ca;
    const address = this.lab.hosts.find((h) => h.name === host)!.address;
    // No CA yet: asked over plain HTTP (nothing deployed answers, or a cluster deployed without TLS does).
    // With a CA, a REST API still plain (a cluster being converted to TLS) is asked over plain HTTP too.
    const get = (withCa: string | undefined) => patroniGet<{ role?: string; state?: string }>(address, '/patroni', withCa);
    const body = await get(ca).catch(() => (ca ? get(undefined) : undefined)).catch(() => undefined);
    if (!body || body.state === 'stopped') {
      this.#down.add(host);
      if (this.#down.size === this.hosts.length) this.#armed = true;
      return;
    }
    if (this.#armed && body.role) this.seen.push({ at: Date.now(), host, role: body.role });
  }
  async stop() {
    this.#running = false;
    await this.#loop;
    return { polls: this.polls, armed: this.#armed, leaders: this.seen.filter((s) => ['master', 'primary', 'leader'].includes(s.role)), roles: [...new Set(this.seen.map((s) => `${s.host}:${s.role}`))].sort() };
  }
}
