// Builds seglog's Node-API addon and places it where src/files/native.ts looks first:
// prebuilds/<platform>-<arch>/seglog_native.node. Run by CI and by `npm pack` (prepack), never
// at a user's install: the package ships the binary, and a user's install runs no script.
// Node-API is ABI-stable, so the binary built here serves every Node.js version seglog supports.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeGyp = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
execFileSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const target = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.mkdirSync(target, { recursive: true });
fs.copyFileSync(path.join(root, 'build', 'Release', 'seglog_native.node'), path.join(target, 'seglog_native.node'));
console.log(`seglog: built ${path.relative(root, path.join(target, 'seglog_native.node'))}`);
