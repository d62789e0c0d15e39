// Installs the peer stores of `npm run bench:compare` (bench/package.json and its lock) into
// bench/node_modules on first use, so that `npm ci` for seglog's tests never installs, downloads
// or compiles them. Later runs find them there and do nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');
const wanted = Object.keys(JSON.parse(fs.readFileSync(path.join(bench, 'package.json'), 'utf8')).dependencies);
const missing = wanted.filter((name) => !fs.existsSync(path.join(bench, 'node_modules', name, 'package.json')));
if (missing.length > 0) {
  console.log(`bench:compare: installing the peer stores into bench/node_modules (${missing.join(', ')})`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: bench, stdio: 'inherit' });
}
