import { execFileSync } from 'node:child_process';

/** The short hash of the commit checked out in `cwd`, for the results: `'unknown'` outside git. */
export function gitCommit(cwd) {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}
