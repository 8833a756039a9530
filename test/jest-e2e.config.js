// End-to-end tests: HTTP through the whole AppModule against real Docker, PostgreSQL and Redis.
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '..',
  roots: ['<rootDir>/test/e2e/'],
  testRegex: '\\.e2e-spec\\.ts$',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  moduleNameMapper: { '^@app/([a-z-]+)(.*)$': '<rootDir>/libs/$1/src$2' },
  testTimeout: 120000,
};
