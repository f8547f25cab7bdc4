/** GANs with interchangeable Lipschitz constraints, and gradient normalization of critics. */
export * from './gradnorm.js';
