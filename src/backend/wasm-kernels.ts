/** Kernels kexue registers on the stock wasm backend (filled in by the native-backend work). */
export function registerWasmKernels(): void {}
