import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { DRIFT_KINDS, DriftItem, ReconcileAction, SandboxReconciler } from '@app/sandbox';
import { AdminOnly } from './auth/admin-only.decorator';

class DriftItemView {
  @ApiProperty({ enum: DRIFT_KINDS }) kind!: string;
  @ApiProperty({ type: String, nullable: true }) sandboxId!: string | null;
  @ApiProperty({ type: String, nullable: true }) containerId!: string | null;
  @ApiProperty() detail!: string;
}

class ReconcileActionView extends DriftItemView {
  @ApiProperty({ enum: ['repaired', 'skipped', 'busy', 'failed'] }) outcome!: string;
  @ApiProperty({ required: false }) error?: string;
}

class DriftReportView {
  @ApiProperty({ type: [DriftItemView] }) drift!: DriftItem[];
}

class ReconcileRunView {
  @ApiProperty({ type: [ReconcileActionView] }) actions!: ReconcileAction[];
}

@ApiTags('operations')
@AdminOnly()
@Controller('v1/admin')
export class AdminController {
  constructor(private readonly reconciler: SandboxReconciler) {}

  @Get('reconcile')
  @ApiOperation({
    summary:
      'Drift between records and Docker, and of the usage counters: what a pass would change',
  })
  @ApiOkResponse({ type: DriftReportView })
  async report(): Promise<DriftReportView> {
    return { drift: await this.reconciler.report() };
  }

  @Post('reconcile')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run a reconcile pass now and say what it did' })
  @ApiOkResponse({ type: ReconcileRunView })
  async run(): Promise<ReconcileRunView> {
    return { actions: await this.reconciler.run() };
  }
}
