import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createReporter } from '../ui/reporter.js';
import { renderTable } from '../ui/table.js';
import { DEFAULT_SUBNET, MAX_HOSTS } from './layout.js';
import { labDown, labSetIsolated, labSetup, labStart, labStatus, labStop, labUp } from './lab.js';
import { labPaths } from './paths.js';
import { DEFAULT_RELEASE, describeRelease, LAB_RELEASES, parseRelease, type LabRelease } from './releases.js';

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Adds `hapg lab …`: the local test lab of systemd-nspawn hosts (CI and the quick start). */
export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description('a local lab of Debian hosts (systemd-nspawn, one network namespace each) to deploy to; needs root')
    .addHelpText(
      'after',
      `\nCaches (kept by \`lab down\`): $HAPG_LAB_CACHE or /var/cache/hapg/lab. State: $HAPG_LAB_STATE or /var/lib/hapg/lab.`,
    );

  lab
    .command('setup')
    .description('install the lab packages, start the apt proxy and build the base rootfs (what `lab up` does when missing)')
    .addOption(new Option('--release <name>', `Debian release of the base rootfs (default: the lab's, else ${DEFAULT_RELEASE})`).choices(Object.keys(LAB_RELEASES)))
    .action(async (opts: { release?: string }) => {
      const reporter = createReporter({});
      const started = Date.now();
      const release = await labSetup({ release: opts.release === undefined ? undefined : parseRelease(opts.release) }, reporter.sink);
      await reporter.result(`lab setup: ready for ${describeRelease(release)} hosts (${seconds(started)})`, { ok: true, release });
    });

  lab
    .command('up')
    .description('create (or keep) a lab of N hosts pg1..pgN and write its inventory')
    .requiredOption('--hosts <n>', `number of hosts (1 to ${MAX_HOSTS})`, wholeNumber)
    .option('--datacenters <n>', 'split the hosts over 1 or 2 datacenters', wholeNumber, 1)
    .option('--out <file>', 'inventory to write', 'inventories/lab.yml')
    .option('--subnet <cidr>', 'private /24 for the lab bridge and hosts', DEFAULT_SUBNET)
    .addOption(new Option('--release <name>', `Debian release of the hosts (default: the lab's, else ${DEFAULT_RELEASE})`).choices(Object.keys(LAB_RELEASES)))
    .addHelpText(
      'after',
      `
Installs the lab packages, starts the apt proxy and builds the base rootfs first when missing.
Re-running it with the same --hosts, --subnet and --release keeps the running lab (hosts
stopped with \`lab stop\` are booted, isolated ones healed; --datacenters and --out only
rewrite the inventory). Anything else — another host count, subnet or release, a host that
died, leftovers of a killed session — tears the lab down and creates it afresh.`,
    )
    .action(async (opts: { hosts: number; datacenters: number; out: string; subnet: string; release?: string }) => {
      const reporter = createReporter({});
      const started = Date.now();
      const release: LabRelease | undefined = opts.release === undefined ? undefined : parseRelease(opts.release);
      const { state, inventoryPath, reused } = await labUp({ ...opts, release }, reporter.sink);
      const rows = [['HOST', 'ADDRESS', 'DATACENTER'], ...state.hosts.map((h) => [h.name, h.address, h.datacenter])];
      const shown = path.relative(process.cwd(), inventoryPath).startsWith('..') ? inventoryPath : path.relative(process.cwd(), inventoryPath);
      await reporter.result(
        `${renderTable(rows)}\nlab up: ${state.hosts.length} ${describeRelease(state.release)} hosts ${reused ? 'already up' : 'up'} in ${seconds(started)}; inventory ${shown}`,
        { release: state.release, hosts: state.hosts, inventory: inventoryPath, reused },
      );
    });

  lab
    .command('down')
    .description('remove every host, mount, namespace, link and cgroup of the lab and stop its apt proxy; keep the caches')
    .action(async () => {
      const reporter = createReporter({});
      const started = Date.now();
      await labDown(reporter.sink);
      await reporter.result(`lab down: done in ${seconds(started)} (caches kept in ${labPaths().cacheDir})`, { ok: true });
    });

  lab
    .command('status')
    .description('list the lab hosts: address, running, SSH reachable, isolated')
    .action(async () => {
      const reporter = createReporter({});
      const { state, hosts, proxyRunning } = await labStatus();
      if (!state) {
        await reporter.result(`no lab (start one with \`hapg lab up --hosts 3\`); apt proxy ${proxyRunning ? 'running' : 'stopped'}`, { hosts: [] });
        return;
      }
      const yesNo = (b: boolean) => (b ? 'yes' : 'no');
      const rows = [
        ['HOST', 'ADDRESS', 'DATACENTER', 'RUNNING', 'SSH', 'ISOLATED'],
        ...hosts.map((h) => [h.name, h.address, h.datacenter, yesNo(h.running), yesNo(h.sshReachable), yesNo(h.isolated)]),
      ];
      await reporter.result(`${renderTable(rows)}\n${describeRelease(state.release)}; apt proxy ${state.proxyUrl}: ${proxyRunning ? 'running' : 'stopped'}`, {
        release: state.release,
        hosts,
        proxyRunning,
      });
    });

  lab
    .command('stop')
    .description('power a host off (same address and disk when started again)')
    .argument('<host>', 'lab host, e.g. pg3')
    .action(async (host: string) => {
      const reporter = createReporter({});
      await labStop(host, reporter.sink);
      await reporter.result(`lab stop: ${host} is off`, { host, running: false });
    });

  lab
    .command('start')
    .description('boot a stopped host and wait for its sshd')
    .argument('<host>', 'lab host, e.g. pg3')
    .action(async (host: string) => {
      const reporter = createReporter({});
      const started = Date.now();
      await labStart(host, reporter.sink);
      await reporter.result(`lab start: ${host} is up (${seconds(started)})`, { host, running: true });
    });

  lab
    .command('isolate')
    .description("cut a host's network (frames dropped at the lab bridge; the host keeps its link)")
    .argument('<host>', 'lab host, e.g. pg2')
    .action(async (host: string) => {
      const reporter = createReporter({});
      await labSetIsolated(host, true, reporter.sink);
      await reporter.result(`lab isolate: ${host} is cut off`, { host, isolated: true });
    });

  lab
    .command('heal')
    .description("restore an isolated host's network")
    .argument('<host>', 'lab host, e.g. pg2')
    .action(async (host: string) => {
      const reporter = createReporter({});
      await labSetIsolated(host, false, reporter.sink);
      await reporter.result(`lab heal: ${host} is reachable again`, { host, isolated: false });
    });
}

/** Runs `hapg lab ARGS…` in this process through the same command definitions (tests, scripts). */
export async function runLabCommand(args: readonly string[]): Promise<void> {
  const program = new Command('hapg').exitOverride();
  registerLabCommands(program);
  await program.parseAsync(['lab', ...args], { from: 'user' });
}
