import fs from 'node:fs';

/** The descriptors of this process open on files in `dir` (named or not), by the paths they lead to. */
export function descriptorsInto(dir: string): string[] {
  const links: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + '/')) links.push(target);
    } catch {
      // closed meanwhile (the readdir's own descriptor)
    }
  }
  return links;
}
