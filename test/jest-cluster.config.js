// Cluster tests: a real 3-node Docker Swarm in network namespaces (test/support/cluster), run as
// root on one machine. Slow and exclusive (fixed namespace names and addresses): run --runInBand.
// The e2e setup (ts-jest, the @app mapping, the chalk stub for the e2b SDK), on test/cluster/.
const e2e = require('./jest-e2e.config.js');

module.exports = {
  ...e2e,
  roots: ['<rootDir>/test/cluster/'],
  testRegex: '.*\\.cluster-spec\\.ts$',
  // Building the swarm takes seconds, a node being declared down takes more.
  testTimeout: 300000,
};
