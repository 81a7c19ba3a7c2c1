import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { HapgError } from '../errors.js';
import { createReporter } from '../ui/reporter.js';
import { renderTable } from '../ui/table.js';
import { describeSystemd } from './host-health.js';
import { DEFAULT_SUBNET, MAX_HOSTS } from './layout.js';
import { defaultInventoryPath, labDown, labPartition, labRebuild, labSetIsolated, labSetup, labStart, labStatus, labStop, labUp } from './lab.js';
import { DEFAULT_LAB, labFlag, labPaths, parseLabName, resolveLabName, type LabPaths } from './paths.js';
import { DEFAULT_RELEASE, describeRelease, LAB_RELEASES, parseRelease, type LabRelease } from './releases.js';

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

/** Commander's form of a usage check: the message without the option name commander adds itself. */
function checked<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof HapgError) throw new InvalidArgumentError(err.message.replace(/^[^:]*: /, ''));
      throw err;
    }
  };
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

interface LabOption {
  lab?: string;
}

/** `--lab NAME` (every lab command has it); HAPG_LAB when it is not given. */
function labOption(): Option {
  return new Option('--lab <name>', `which lab (default: $HAPG_LAB, else "${DEFAULT_LAB}")`).argParser(checked(parseLabName));
}

function pathsOf(opts: LabOption): LabPaths {
  return labPaths(process.env, resolveLabName(opts.lab));
}

/** "lab wtlab: " before result lines of a named lab; nothing for the default lab. */
function prefixOf(paths: LabPaths): string {
  return paths.names.lab === DEFAULT_LAB ? '' : `lab ${paths.names.lab}: `;
}

/** Adds `hapg lab …`: local test labs of systemd-nspawn hosts (CI and the quick start). */
export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description('local labs of Debian hosts (systemd-nspawn, one network namespace each) to deploy to; needs root')
    .addHelpText(
      'after',
      `
Several labs run side by side: --lab NAME (or HAPG_LAB) picks one; each has its own subnet,
bridge, namespaces, state and lock. Caches (kept by \`lab down\`, shared by every lab):
$HAPG_LAB_CACHE or /var/cache/hapg/lab. State: $HAPG_LAB_STATE or /var/lib/hapg/lab for the
default lab, the same path with -NAME appended for lab NAME.`,
    );

  lab
    .command('setup')
    .description('install the lab packages, start the apt proxy and build the base rootfs (what `lab up` does when missing)')
    .addOption(labOption())
    .addOption(new Option('--release <name>', `Debian release of the base rootfs (default: the lab's, else ${DEFAULT_RELEASE})`).choices(Object.keys(LAB_RELEASES)))
    .action(async (opts: LabOption & { release?: string }) => {
      const reporter = createReporter({});
      const started = Date.now();
      const release = await labSetup({ release: opts.release === undefined ? undefined : parseRelease(opts.release) }, reporter.sink, pathsOf(opts));
      await reporter.result(`lab setup: ready for ${describeRelease(release)} hosts (${seconds(started)})`, { ok: true, release });
    });

  lab
    .command('up')
    .description('create (or keep) a lab of N hosts pg1..pgN and write its inventory')
    .addOption(labOption())
    .requiredOption('--hosts <n>', `number of hosts (1 to ${MAX_HOSTS})`, wholeNumber)
    .option('--datacenters <n>', 'split the hosts over 1 or 2 datacenters', wholeNumber, 1)
    .option('--out <file>', 'inventory to write (default: inventories/lab.yml, for lab NAME inventories/lab-NAME.yml)')
    .option('--subnet <cidr>', `private /24 for the lab bridge and hosts (default: the lab's, else ${DEFAULT_SUBNET} for the default lab and a free 10.213.x.0/24 derived from the name for others)`)
    .addOption(new Option('--release <name>', `Debian release of the hosts (default: the lab's, else ${DEFAULT_RELEASE})`).choices(Object.keys(LAB_RELEASES)))
    .addHelpText(
      'after',
      `
Installs the lab packages, starts the apt proxy and builds the base rootfs first when missing.
Re-running it with the same --hosts, --subnet and --release keeps the running lab (hosts
stopped with \`lab stop\` are booted, isolated ones healed; --datacenters and --out only
rewrite the inventory). Anything else — another host count, subnet or release, a host that
died, leftovers of a killed session — tears this lab down and creates it afresh. Other labs
keep running.`,
    )
    .action(async (opts: LabOption & { hosts: number; datacenters: number; out?: string; subnet?: string; release?: string }) => {
      const reporter = createReporter({});
      const started = Date.now();
      const paths = pathsOf(opts);
      const release: LabRelease | undefined = opts.release === undefined ? undefined : parseRelease(opts.release);
      const { state, inventoryPath, reused } = await labUp(
        { hosts: opts.hosts, datacenters: opts.datacenters, out: opts.out ?? defaultInventoryPath(paths.names.lab), subnet: opts.subnet, release },
        reporter.sink,
        paths,
      );
      const rows = [['HOST', 'ADDRESS', 'DATACENTER'], ...state.hosts.map((h) => [h.name, h.address, h.datacenter])];
      const shown = path.relative(process.cwd(), inventoryPath).startsWith('..') ? inventoryPath : path.relative(process.cwd(), inventoryPath);
      await reporter.result(
        `${renderTable(rows)}\n${prefixOf(paths)}lab up: ${state.hosts.length} ${describeRelease(state.release)} hosts on ${state.subnet} ${reused ? 'already up' : 'up'} in ${seconds(started)}; inventory ${shown}`,
        { lab: paths.names.lab, release: state.release, subnet: state.subnet, hosts: state.hosts, inventory: inventoryPath, reused },
      );
    });

  lab
    .command('down')
    .description("remove every host, mount, namespace, link and cgroup of the lab; keep the caches (the apt proxy stops with the last lab)")
    .addOption(labOption())
    .action(async (opts: LabOption) => {
      const reporter = createReporter({});
      const started = Date.now();
      const paths = pathsOf(opts);
      await labDown(reporter.sink, paths);
      await reporter.result(`${prefixOf(paths)}lab down: done in ${seconds(started)} (caches kept in ${paths.cacheDir})`, { lab: paths.names.lab, ok: true });
    });

  lab
    .command('status')
    .description("list the lab's hosts: address, running, SSH reachable, isolated, systemd's state")
    .addOption(labOption())
    .action(async (opts: LabOption) => {
      const reporter = createReporter({});
      const paths = pathsOf(opts);
      const { lab: name, state, hosts, proxyRunning, proxyServesLab } = await labStatus(paths);
      if (!state) {
        await reporter.result(`lab ${name} is not up (start it with \`hapg lab up${labFlag(name)} --hosts 3\`); apt proxy ${proxyRunning ? 'running' : 'stopped'}`, {
          lab: name,
          hosts: [],
          proxyRunning,
        });
        return;
      }
      const yesNo = (b: boolean) => (b ? 'yes' : 'no');
      const rows = [
        ['HOST', 'ADDRESS', 'DATACENTER', 'RUNNING', 'SSH', 'ISOLATED', 'SYSTEMD'],
        ...hosts.map((h) => [h.name, h.address, h.datacenter, yesNo(h.running), yesNo(h.sshReachable), h.isolated ? 'yes' : h.cutFrom.length ? `from ${h.cutFrom.join(',')}` : 'no', describeSystemd(h)]),
      ];
      const again = `run \`hapg lab up${labFlag(name)} --hosts ${state.hosts.length}\` again`;
      const proxy = proxyServesLab ? 'running' : `${proxyRunning ? `running, but not on ${state.bridgeAddress}` : 'stopped'} (${again})`;
      await reporter.result(
        `${renderTable(rows)}\nlab ${name}: ${describeRelease(state.release)} on ${state.subnet}; apt proxy ${state.proxyUrl}: ${proxy}`,
        { lab: name, release: state.release, subnet: state.subnet, hosts, proxyRunning, proxyServesLab },
      );
    });

  lab
    .command('stop')
    .description('power a host off (same address and disk when started again)')
    .argument('<host>', 'lab host, e.g. pg3')
    .addOption(labOption())
    .option('--hard', 'no clean shutdown: kill every process of the host at once, as a power cut does')
    .action(async (host: string, opts: LabOption & { hard?: boolean }) => {
      const reporter = createReporter({});
      const paths = pathsOf(opts);
      await labStop(host, reporter.sink, paths, { hard: opts.hard ?? false });
      await reporter.result(`${prefixOf(paths)}lab stop: ${host} is off`, { lab: paths.names.lab, host, running: false });
    });

  /** A command that boots one host (start, rebuild) and says how long it took. */
  const bootingCommand = (command: string, description: string, run: typeof labStart, says: string, extra: Record<string, unknown> = {}) =>
    lab
      .command(command)
      .description(description)
      .argument('<host>', 'lab host, e.g. pg3')
      .addOption(labOption())
      .action(async (host: string, opts: LabOption) => {
        const reporter = createReporter({});
        const started = Date.now();
        const paths = pathsOf(opts);
        await run(host, reporter.sink, paths);
        await reporter.result(`${prefixOf(paths)}lab ${command}: ${host} ${says} (${seconds(started)})`, { lab: paths.names.lab, host, running: true, ...extra });
      });
  bootingCommand('start', 'boot a stopped host and wait for its sshd', labStart, 'is up');
  bootingCommand(
    'rebuild',
    "replace a host's disk: power it off at once, give it a fresh copy of the base rootfs (same name, address and SSH keys), boot it; everything on its old disk is gone",
    labRebuild,
    'is up on a fresh disk',
    { rebuilt: true },
  );

  lab
    .command('isolate')
    .description("cut a host's network (frames dropped at the lab bridge; the host keeps its link)")
    .argument('<host>', 'lab host, e.g. pg2')
    .addOption(labOption())
    .action(async (host: string, opts: LabOption) => {
      const reporter = createReporter({});
      const paths = pathsOf(opts);
      await labSetIsolated(host, true, reporter.sink, paths);
      await reporter.result(`${prefixOf(paths)}lab isolate: ${host} is cut off`, { lab: paths.names.lab, host, isolated: true });
    });

  lab
    .command('partition')
    .description('cut the network between two groups of hosts, both ways (packets lost); each keeps every other peer, like two datacenters whose link failed')
    .argument('<hosts-a>', 'comma-separated lab hosts, e.g. pg1,pg2,pg3')
    .argument('<hosts-b>', 'comma-separated lab hosts, e.g. pg4,pg5')
    .addOption(labOption())
    .action(async (a: string, b: string, opts: LabOption) => {
      const reporter = createReporter({});
      const paths = pathsOf(opts);
      await labPartition(a.split(','), b.split(','), reporter.sink, paths);
      await reporter.result(`${prefixOf(paths)}lab partition: ${a} and ${b} cannot reach each other (\`hapg lab heal HOST\` restores a host)`, { lab: paths.names.lab, partition: [a.split(','), b.split(',')] });
    });

  lab
    .command('heal')
    .description("restore a host's network: isolation and partitions")
    .argument('<host>', 'lab host, e.g. pg2')
    .addOption(labOption())
    .action(async (host: string, opts: LabOption) => {
      const reporter = createReporter({});
      const paths = pathsOf(opts);
      await labSetIsolated(host, false, reporter.sink, paths);
      await reporter.result(`${prefixOf(paths)}lab heal: ${host} is reachable again`, { lab: paths.names.lab, host, isolated: false });
    });
}

/** Runs `hapg lab ARGS…` in this process through the same command definitions (tests, scripts). */
export async function runLabCommand(args: readonly string[]): Promise<void> {
  const program = new Command('hapg').exitOverride();
  registerLabCommands(program);
  await program.parseAsync(['lab', ...args], { from: 'user' });
}
