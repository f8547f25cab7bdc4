/**
 * kexue's version, as a constant so that browser code (which cannot read package.json) can record it
 * in saved models; src/version.test.ts keeps it equal to package.json's.
 */
export const VERSION = '0.1.0';
