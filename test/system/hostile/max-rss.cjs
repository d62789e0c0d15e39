// Preloaded into a child process (node -r): prints the process's peak resident set on exit.
// VmHWM is the peak of this program's own memory; getrusage's maxRSS would also count the parent's
// resident set at the fork (a vitest worker of a few hundred MB), which hides what the child used.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS preload (node -r)
const fs = require('node:fs');
process.on('exit', () => {
  let kb = process.resourceUsage().maxRSS;
  try {
    kb = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
  } catch {
    // no /proc: the rusage figure, an upper bound
  }
  process.stderr.write(`\nMAX_RSS_KB=${kb}\n`);
});
