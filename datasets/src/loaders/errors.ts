/**
 * The error every loader throws for bad input data (wrong size, header, shape, labels).
 * `source` names the file or argument at fault, so a CLI can print one line and exit 2 while
 * treating any other exception as a bug.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly source: string;

  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.source = source;
  }
}

export function isDatasetError(e: unknown): e is DatasetError {
  return e instanceof DatasetError;
}
