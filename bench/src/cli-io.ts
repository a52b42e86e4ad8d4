/** What a CLI command may touch besides its files: its output streams. Tests pass in-memory ones. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr };

/**
 * Bad command-line input: the CLI prints `edgetta <command>: <argument>: <message>` on one line
 * and exits with code 2. `argument` names the option or file at fault.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly argument: string;

  constructor(argument: string, message: string) {
    super(`${argument}: ${message}`);
    this.argument = argument;
  }
}

/** Exit codes: 0 success, 1 unexpected failure (a bug), 2 bad input, 130 interrupted. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;
