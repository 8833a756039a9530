// Cluster tests: a real 3-node Docker Swarm in network namespaces (test/support/cluster), run as
// root on one machine. Slow and exclusive (fixed namespace names and addresses): run --runInBand.
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '..',
  roots: ['<rootDir>/test/cluster/'],
  testRegex: '.*\\.cluster-spec\\.ts$',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@app/extensions/([a-z0-9-]+)$': '<rootDir>/libs/extensions/$1/src',
    '^@app/([a-z0-9-]+)(.*)$': '<rootDir>/libs/$1/src$2',
    // e2b's CommonJS build requires ESM-only chalk 5 (see the stub).
    '^chalk$': '<rootDir>/test/support/chalk-stub.js',
  },
  // Building the swarm takes seconds, a node being declared down takes more.
  testTimeout: 300000,
};
