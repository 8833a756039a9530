// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { CodedError } from '@app/domain';
import { OUTCOME_WINDOW_MS, StartOutcomes, SYSTEMATIC_FAILURES } from './start-outcomes';

const engineRefused = new CodedError('CONTAINER_FAILED', 'could not start', { reason: 'engine' });
const userExit = new CodedError('CONTAINER_FAILED', 'exited', { reason: 'exited' });

describe('StartOutcomes', () => {
  it('calls starts systematic only when the latest ones all failed in the engine', () => {
    const outcomes = new StartOutcomes();
    for (let i = 0; i < SYSTEMATIC_FAILURES - 1; i += 1)
      outcomes.noteFailure(`s${i}`, engineRefused, 1);
    expect(outcomes.systematicFailure(2)).toBeNull();
    outcomes.noteFailure('last', engineRefused, 1);
    expect(outcomes.systematicFailure(2)).toMatch(/all failed in the engine/);
    outcomes.noteSuccess(3);
    expect(outcomes.systematicFailure(4)).toBeNull();
  });

  it("does not count a user's failing command or missing image, nor old outcomes", () => {
    const outcomes = new StartOutcomes();
    for (let i = 0; i < SYSTEMATIC_FAILURES; i += 1) outcomes.noteFailure(`u${i}`, userExit, 1);
    expect(outcomes.systematicFailure(2)).toBeNull();
    for (let i = 0; i < SYSTEMATIC_FAILURES; i += 1)
      outcomes.noteFailure(`e${i}`, engineRefused, 1);
    expect(outcomes.systematicFailure(2 + OUTCOME_WINDOW_MS)).toBeNull();
  });

  it('counts engine calls that never answered (ENGINE_TIMEOUT) as failures of the engine', () => {
    const outcomes = new StartOutcomes();
    const hung = new CodedError('ENGINE_TIMEOUT', 'the Docker engine did not answer');
    for (let i = 0; i < SYSTEMATIC_FAILURES; i += 1) outcomes.noteFailure(`t${i}`, hung, 1);
    expect(outcomes.systematicFailure(2)).toMatch(/did not answer/);
  });

  it('hands a failed create its code once', () => {
    const outcomes = new StartOutcomes();
    outcomes.noteFailure('a', new CodedError('IMAGE_UNAVAILABLE', 'gone'));
    expect(outcomes.takeFailureCode('a')).toBe('IMAGE_UNAVAILABLE');
    expect(outcomes.takeFailureCode('a')).toBeUndefined();
  });
});
