import fs from 'node:fs';
import { InvalidArgumentError, LogIOError } from '../errors.js';

/**
 * Makes sure `dir` can hold a partition: a directory (created for a writer when missing) that
 * this process may read, and for a writer also write. Throws `InvalidArgumentError` (a file is in
 * the way) or `LogIOError` (missing for a reader, no permission, cannot create).
 */
export function prepareDirectory(dir: string, readOnly: boolean): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined && !stat.isDirectory()) {
    throw new InvalidArgumentError(`${dir} is not a directory`, { file: dir });
  }
  if (stat === undefined) {
    if (readOnly) throw new LogIOError(`partition directory ${dir} does not exist`, { file: dir });
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new LogIOError(`cannot create partition directory ${dir}: ${(cause as Error).message}`, { file: dir, cause });
    }
  }
  try {
    fs.accessSync(dir, readOnly ? fs.constants.R_OK | fs.constants.X_OK : fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (cause) {
    throw new LogIOError(`no permission to ${readOnly ? 'read' : 'write'} partition directory ${dir}`, { file: dir, cause });
  }
}
