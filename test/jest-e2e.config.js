// End-to-end tests: HTTP through the whole AppModule against real Docker, PostgreSQL and Redis.
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '..',
  roots: ['<rootDir>/test/e2e/'],
  testRegex: '\\.e2e-spec\\.ts$',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@app/extensions/([a-z0-9-]+)$': '<rootDir>/libs/extensions/$1/src',
    '^@app/([a-z0-9-]+)(.*)$': '<rootDir>/libs/$1/src$2',
    // e2b's CommonJS build requires ESM-only chalk 5 (see the stub).
    '^chalk$': '<rootDir>/test/support/chalk-stub.js',
  },
  testTimeout: 120000,
};
