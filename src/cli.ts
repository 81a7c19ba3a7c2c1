import { Command, CommanderError } from 'commander';
import { registerBackupCommands } from './commands/backup.js';
import { registerCertsCommands } from './commands/certs.js';
import { registerCheckCommand } from './commands/check.js';
import { registerDeployCommand } from './commands/deploy.js';
import { registerPlanCommand } from './commands/plan.js';
import { registerSchemaCommand } from './commands/schema.js';
import { registerStatusCommand } from './commands/status.js';
import { registerStandbyCommands } from './commands/standby.js';
import { registerSwitchoverCommand } from './commands/switchover.js';
import { asHapgError, ExitCode } from './errors.js';
import { closeProgress } from './ui/reporter.js';
import { registerLabCommands } from './lab/commands.js';

/** Builds the command tree. Each command module registers itself here. */
export function buildProgram(): Command {
  const program = new Command('hapg')
    .description('Deploy and operate highly available PostgreSQL clusters over SSH')
    .option('--verbose', 'print stack traces and debug output')
    .exitOverride()
    // Usage errors read like every other error: one line, `hapg: …` (subcommands inherit this).
    .configureOutput({ outputError: (text, write) => write(`hapg: ${text.replace(/^error: /, '')}`) });
  registerCheckCommand(program);
  registerPlanCommand(program);
  registerDeployCommand(program);
  registerStatusCommand(program);
  registerSwitchoverCommand(program);
  registerStandbyCommands(program);
  registerBackupCommands(program);
  registerCertsCommands(program);
  registerSchemaCommand(program);
  registerLabCommands(program);
  return program;
}

/** Runs the CLI and returns the process exit code; only this function prints errors. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? ExitCode.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    }
    const e = asHapgError(err);
    await closeProgress(e);
    process.stderr.write(`hapg: ${e.message}${e.hint ? ` (${e.hint})` : ''}\n`);
    if (program.opts()['verbose'] && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    return e.exitCode;
  }
}
