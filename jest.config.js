// Unit tests: pure logic and services with fakes, beside their subject. No network.
// Extensions live one level deeper (libs/extensions/<name>), so their rule comes first.
const moduleNameMapper = {
  '^@app/extensions/([a-z0-9-]+)$': '<rootDir>/libs/extensions/$1/src',
  '^@app/([a-z0-9-]+)(.*)$': '<rootDir>/libs/$1/src$2',
};

module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '.',
  roots: ['<rootDir>/apps/', '<rootDir>/libs/'],
  testRegex: '\\.spec\\.ts$',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testEnvironment: 'node',
  moduleNameMapper,
};
