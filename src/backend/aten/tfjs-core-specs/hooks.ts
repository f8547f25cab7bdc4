/**
 * Module hooks that let Node load @tensorflow/tfjs-core's dist/*.js (ES module syntax, extensionless
 * relative imports, the odd `require`) as ES modules, so its own spec files can run unbundled.
 */
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CORE_DIST = '/@tensorflow/tfjs-core/dist/';
const PRELUDE =
  "import { createRequire as __kexueCreateRequire } from 'node:module'; const require = __kexueCreateRequire(import.meta.url);\n";

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string }>;
type NextLoad = (url: string, context: object) => Promise<{ format: string; source?: string | Buffer }>;

function inCore(url: string | undefined): boolean {
  return url != null && url.startsWith('file:') && url.includes(CORE_DIST);
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<{ url: string; format?: string; shortCircuit?: boolean }> {
  if (inCore(context.parentURL) && specifier.startsWith('.')) {
    const base = fileURLToPath(new URL(specifier, context.parentURL));
    for (const candidate of [base, base + '.js', base + '/index.js']) {
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
        return { url: pathToFileURL(candidate).href, format: 'module', shortCircuit: true };
      }
    }
  }
  return next(specifier, context);
}

export async function load(
  url: string,
  context: object,
  next: NextLoad,
): Promise<{ format: string; source?: string | Buffer; shortCircuit?: boolean }> {
  if (
    inCore(url) &&
    url.endsWith('.js') &&
    !url.includes('.node.js') &&
    !url.includes('.min.js') &&
    !url.includes('.es2017.')
  ) {
    // Namespace imports of CommonJS packages (seedrandom, long) need the CommonJS object itself.
    const source = fs
      .readFileSync(fileURLToPath(url), 'utf8')
      .replace(/^import \* as (\w+) from '([^.'][^']*)';$/gm, "const $1 = require('$2');");
    return { format: 'module', source: PRELUDE + source, shortCircuit: true };
  }
  return next(url, context);
}
