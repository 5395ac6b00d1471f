export { ERROR_CONFIDENCE, confidenceHalfWidth, removeUpperOutliers, studentTQuantile, summarize, type Summary } from './describe.js';
export { independentRatioInterval, pairedRatioInterval, type RatioInterval } from './ratio.js';
export { maxOf, minOf } from './extent.js';
