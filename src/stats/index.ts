export { ERROR_CONFIDENCE, confidenceHalfWidth, removeUpperOutliers, studentTQuantile, summarize, type Summary } from './describe.js';
