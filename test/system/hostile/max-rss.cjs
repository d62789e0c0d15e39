// Preloaded into a child process (node -r): prints the process's peak resident set on exit.
process.on('exit', () => {
  process.stderr.write(`\nMAX_RSS_KB=${process.resourceUsage().maxRSS}\n`);
});
