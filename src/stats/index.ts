export { ERROR_CONFIDENCE, confidenceHalfWidth, removeUpperOutliers, studentTQuantile, summarize, type Summary } from './describe.js';
export { pairedRatioInterval, type RatioInterval } from './ratio.js';
