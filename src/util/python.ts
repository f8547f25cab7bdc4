import fs from 'node:fs';

/**
 * The Python that runs reference implementations: Debian's, where scripts/setup.sh installs
 * python3-numpy and python3-torch (a python3 earlier on PATH, e.g. pyenv's, may lack them).
 */
export function referencePython(): string {
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}
