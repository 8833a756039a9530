import { run } from './program';

// exitCode rather than exit(): pending stdout writes (a large download to a pipe) still flush.
void run(process.argv).then((status) => {
  process.exitCode = status;
});
