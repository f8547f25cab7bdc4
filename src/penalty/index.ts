/** Input- and parameter-gradient penalties, and the inequality between them for MLPs. */
export * from './penalties.js';
export * from './inequality.js';
export * from './property.js';
export { spectralNormSq, symmetricEigen, largestEigenvalue } from './linalg.js';
