export { ERROR_CONFIDENCE, confidenceHalfWidth, removeUpperOutliers, studentTQuantile, summarize, type Summary } from './describe.js';
export { MAX_PERCENT, independentRatioInterval, pairedRatioInterval, percentBoundOf, type RatioInterval } from './ratio.js';
export { maxOf, minOf } from './extent.js';
