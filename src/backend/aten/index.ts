/** Native ATen backend (registered when the addon is built). */
export function isAvailable(): boolean {
  return false;
}
