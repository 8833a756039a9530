/**
 * Child process that generates HTTP load with autocannon, so the load generator does not share
 * the event loop (or the core) of the server under test. Started by LoadGenerator (load.ts) with
 * fork(); takes one job at a time over IPC and answers with autocannon's summary.
 */
import autocannon from 'autocannon';
import type { LoadJob, LoadReply } from './load';

const MAX_DURATION_SECONDS = 60;

function run(job: LoadJob): Promise<autocannon.Result> {
  if (!job.url.startsWith('http://127.0.0.1:')) {
    return Promise.reject(new Error(`not a loopback URL: ${job.url}`));
  }
  if (job.paths.length === 0) return Promise.reject(new Error('no paths'));
  let next = 0;
  return autocannon({
    url: job.url,
    connections: job.connections,
    duration: Math.min(job.durationSeconds, MAX_DURATION_SECONDS),
    ...(job.overallRate === undefined ? {} : { overallRate: job.overallRate }),
    // Each request takes the next path, round robin (e.g. a different sandbox id each time).
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => {
          const path = job.paths[next % job.paths.length];
          next += 1;
          return { ...request, path };
        },
      },
    ],
  });
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => reply({ ok: true, result }),
    (error: unknown) => reply({ ok: false, error: String(error) }),
  );
});
// Lives only as long as its parent: the IPC channel closing ends it.
process.on('disconnect', () => process.exit(0));

function reply(message: LoadReply): void {
  process.send?.(message);
}
