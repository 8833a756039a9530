/**
 * What checking a stored info on read costs: the read path parses one info blob per sandbox (GET
 * by id from the cache or the database, 100 per list page), and since issue 11 checks each
 * against the zod schema (parseStoredInfo). Compares, interleaved, per info blob of a realistic
 * running sandbox:
 *
 *   baseline   JSON.parse of the text alone (what any read must do)
 *   checked    parseStoredInfo: JSON.parse + the schema (what a read does now)
 *
 *   npx ts-node -r tsconfig-paths/register bench/stored-info-read.bench.ts
 *
 * Pure CPU, no services. Prints µs per info and the ratio to the baseline; writes
 * bench/results/stored-info-read.json. Env: BENCH_ROUNDS (10), BENCH_RECORDS (1000).
 */
import 'reflect-metadata';
import { parseStoredInfo } from '../libs/meta-store/src/stored-sandbox-schema';
import { makeSandboxInfo } from '../libs/meta-store/src/testing/sandbox-fixtures';
import {
  interleaved,
  median,
  positiveInt,
  printTable,
  ratio,
  round,
  fmtRatio,
  writeResults,
} from './support/stats';

const rounds = positiveInt('BENCH_ROUNDS', 10);
const records = positiveInt('BENCH_RECORDS', 1000);
const PASSES = 50;

const texts = Array.from({ length: records }, (_, i) =>
  JSON.stringify(
    makeSandboxInfo({
      id: `sbx-${String(i).padStart(6, '0')}`,
      state: 'running',
      operation: null,
      labels: { team: 'a', run: String(i) },
      ports: { '8080': 30_000 + (i % 1000) },
      startedAt: '2026-01-01T00:00:01.000Z',
      autoStopAt: '2026-01-01T00:30:01.000Z',
      lastActivityAt: '2026-01-01T00:00:01.000Z',
      stateHistory: [
        { from: 'pending', to: 'pending', event: 'create', at: '2026-01-01T00:00:00.000Z' },
        { from: 'pending', to: 'running', event: 'started', at: '2026-01-01T00:00:01.000Z' },
      ],
    }),
  ),
);
const ids = texts.map((_, i) => `sbx-${String(i).padStart(6, '0')}`);

type Variant = 'baseline' | 'checked';
const run: Record<Variant, () => void> = {
  baseline: () => {
    for (const text of texts) JSON.parse(text);
  },
  checked: () => {
    for (let i = 0; i < texts.length; i += 1) parseStoredInfo(texts[i], ids[i]);
  },
};

/** µs per info over PASSES passes of the records. */
function measure(variant: Variant): number {
  const start = process.hrtime.bigint();
  for (let pass = 0; pass < PASSES; pass += 1) run[variant]();
  return Number(process.hrtime.bigint() - start) / 1000 / (PASSES * texts.length);
}

measure('baseline');
measure('checked');
const samples: Record<Variant, number[]> = { baseline: [], checked: [] };
for (let r = 0; r < rounds; r += 1) {
  for (const variant of interleaved<Variant>(r, 'baseline', 'checked')) {
    samples[variant].push(measure(variant));
  }
}
const baseline = median(samples.baseline);
const checked = median(samples.checked);
printTable(
  `stored info read: median of ${rounds} rounds, ${records} infos × ${PASSES} passes`,
  ['variant', 'µs per info', 'ratio to baseline'],
  [
    ['JSON.parse only (baseline)', String(round(baseline, 2)), '1.00'],
    ['parseStoredInfo (checked)', String(round(checked, 2)), fmtRatio(ratio(checked, baseline))],
  ],
);
writeResults('stored-info-read', {
  rounds,
  records,
  usPerInfo: { baseline: round(baseline, 3), checked: round(checked, 3) },
  ratio: ratio(checked, baseline),
});
