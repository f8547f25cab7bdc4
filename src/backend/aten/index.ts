/**
 * Native ATen backend. Importing this module (`import 'kexue/aten'`) registers the 'aten' backend when the
 * addon is built; `isAvailable()` says whether it is.
 */
import { loadAddon } from './addon.js';
import { registerAten } from './register.js';

/** Loads the addon and registers the 'aten' backend; false (never a throw) when the addon is absent. */
export function isAvailable(): boolean {
  const addon = loadAddon();
  if (addon == null) return false;
  try {
    return registerAten(addon);
  } catch {
    return false;
  }
}

isAvailable();
