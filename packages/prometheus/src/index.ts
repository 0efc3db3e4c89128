export { defaultWaitBuckets } from './options.js';
export {
  type MetricsSource,
  type RegisterMetricsOptions,
  registerMetrics,
  rejectionReasons,
  type UnregisterMetrics,
} from './register-metrics.js';
