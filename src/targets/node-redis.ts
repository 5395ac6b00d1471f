import type { Driver } from './client.js';

// PLACEHOLDER, being replaced by the node-redis driver (helper session in progress).
export const nodeRedisDriver: Driver = {
  name: 'node-redis',
  version: '0',
  connect() {
    return Promise.reject(new Error('the node-redis driver is not built yet'));
  },
};
