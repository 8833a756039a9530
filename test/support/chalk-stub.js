// The e2b SDK's CommonJS build requires chalk 5, which is ESM only and cannot load under Jest's
// CommonJS runtime. Only its template-build logs use it, so the suites get a colourless chalk:
// every style, chained or called (`chalk.hex('#fff')('text')`), reads as its text.
function make(text) {
  const styled = () => text;
  return new Proxy(styled, {
    apply: (_target, _this, args) => make(args.join(' ')),
    get: (_target, key) =>
      key === Symbol.toPrimitive || key === 'toString' ? () => text : make(text),
  });
}
module.exports = make('');
