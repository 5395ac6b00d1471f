import type { Driver } from './client.js';

// PLACEHOLDER, being replaced by the glide driver (helper session in progress).
export const glideDriver: Driver = {
  name: 'glide',
  version: '0',
  connect() {
    return Promise.reject(new Error('the glide driver is not built yet'));
  },
};
