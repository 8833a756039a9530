import { isCodedError } from '@app/domain';
import { ExecOutputBudget } from './exec-output-budget';

describe('ExecOutputBudget', () => {
  it('lets leases grow until the budget is spent, then refuses growth and new leases', () => {
    const budget = new ExecOutputBudget(100);
    const a = budget.lease();
    const b = budget.lease();
    expect(a.grow(60)).toBe(true);
    expect(b.grow(50)).toBe(false);
    expect(b.grow(40)).toBe(true);
    expect(budget.usedBytes).toBe(100);
    let refused: unknown;
    try {
      budget.lease();
    } catch (error) {
      refused = error;
    }
    expect(isCodedError(refused, 'EXEC_OUTPUT_BUDGET_EXHAUSTED')).toBe(true);
    expect((refused as Error).message).toContain('EXEC_OUTPUT_BUDGET allows (100 bytes)');
  });

  it('gives everything back once on release, and a released lease takes nothing more', () => {
    const budget = new ExecOutputBudget(100);
    const lease = budget.lease();
    lease.grow(70);
    lease.release();
    lease.release();
    expect(budget.usedBytes).toBe(0);
    expect(lease.grow(10)).toBe(false);
    expect(budget.usedBytes).toBe(0);
    const next = budget.lease();
    expect(next.grow(100)).toBe(true);
  });
});
