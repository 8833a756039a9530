import { Injectable } from '@nestjs/common';
import type { AdmissionPolicy, AdmissionRequest } from '@app/extension-api';

/**
 * The admission policies of the enabled extensions, asked in order before a create or a restart
 * (SandboxService), whichever door it came through. A refusal is the policy's own CodedError,
 * thrown on unchanged; with no policy this is one empty loop.
 */
@Injectable()
export class SandboxAdmission {
  private readonly policies: AdmissionPolicy[] = [];

  /** Adds a policy after those already in use (the extension host, at start-up). */
  use(policy: AdmissionPolicy): void {
    this.policies.push(policy);
  }

  get active(): boolean {
    return this.policies.length > 0;
  }

  async check(request: AdmissionRequest): Promise<void> {
    for (const policy of this.policies) await policy.admit(request);
  }
}
