// Integration tests: one library against the real PostgreSQL, Redis, SQLite, Docker engine.
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '..',
  roots: ['<rootDir>/test/integration/'],
  testRegex: '\\.int-spec\\.ts$',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  moduleNameMapper: {
    '^@app/extensions/([a-z0-9-]+)$': '<rootDir>/libs/extensions/$1/src',
    '^@app/([a-z0-9-]+)(.*)$': '<rootDir>/libs/$1/src$2',
  },
  testTimeout: 60000,
};
