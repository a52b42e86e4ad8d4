/**
 * The `edgetta` command line. Subcommands live in `commands/<name>.ts`, each exporting
 * `createCommand(io)`; registering one is one line in `COMMANDS`.
 */
import { Command, CommanderError } from 'commander';
import { isDatasetError } from '@edgetta/datasets';
import { type CliIO, EXIT, processIO, UsageError } from './cli-io.js';

export interface CommandModule {
  createCommand(io: CliIO): Command;
}

export const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  corrupt: () => import('./commands/corrupt.js'),
  bench: () => import('./commands/bench.js'),
  report: () => import('./commands/report.js'),
  'restore-bn': () => import('./commands/restore-bn.js'),
};

/** Builds the program with every registered subcommand. */
export async function createProgram(io: CliIO = processIO): Promise<Command> {
  const program = new Command('edgetta')
    .description('Test-time adaptation for image models at the edge: benchmarks, corrupted datasets, streams.')
    .showHelpAfterError(false);
  for (const load of Object.values(COMMANDS)) program.addCommand((await load()).createCommand(io));
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander's errors may span lines ("(Did you mean ...?)"); keep them to one.
      outputError: (s, write) => write(`${s.replace(/\s*\n\s*/g, ' ').trim()}\n`),
    });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code; never calls process.exit. */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const program = await createProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version "errors" are successes; everything else commander rejects is bad usage
      if (e.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    const command = program.args[0] && program.args[0] in COMMANDS ? ` ${program.args[0]}` : '';
    if (e instanceof UsageError || isDatasetError(e)) {
      io.stderr.write(`edgetta${command}: ${oneLine(e.message)}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`edgetta${command}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failure;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
