/**
 * Reads members of a `.tar.gz` archive into memory without extracting to disk: node:zlib
 * gunzips, the `tar` package (node-tar, maintained by npm) parses the entries, and only the
 * members the filter accepts are kept.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { DatasetError } from '../loaders/errors.js';
import { fileError } from './files.js';

/** Regular-file members whose path passes `accept`, keyed by their path inside the archive. */
export async function readTarGzMembers(archive: string, accept: (path: string) => boolean): Promise<Map<string, Uint8Array>> {
  const members = new Map<string, Uint8Array>();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      input.destroy();
      gunzip.destroy();
      reject(e);
    };
    const parser = new Parser({
      strict: true,
      onReadEntry(entry: ReadEntry) {
        if (entry.type !== 'File' || !accept(entry.path)) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          const b = Buffer.concat(chunks);
          members.set(entry.path, new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
        });
      },
    });
    parser.on('error', (e: Error) => fail(new DatasetError(archive, `not a valid tar archive (${e.message})`)));
    parser.on('end', () => {
      if (!failed) resolve();
    });
    const input = createReadStream(archive);
    const gunzip = createGunzip();
    input.on('error', (e) => fail(fileError(archive, e)));
    gunzip.on('error', (e) => fail(new DatasetError(archive, `not a gzip-compressed tar archive (${e.message})`)));
    input.pipe(gunzip).pipe(parser as unknown as NodeJS.WritableStream);
  });
  return members;
}
