export { AdaptivePermit } from './adaptive-permit.js';
export {
  AdaptiveSemaphore,
  type AdaptiveSemaphoreOptions,
  type AlgorithmName,
} from './adaptive-semaphore.js';
export { type AimdOptions, aimd, createAimd } from './aimd.js';
export type { LimitAlgorithm, LimitBounds, LimitController } from './algorithm.js';
export { createGradient2, type Gradient2Options, gradient2 } from './gradient2.js';
export { createVegas, type VegasOptions, vegas } from './vegas.js';
