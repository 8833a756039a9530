import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { FilesConfig } from '@app/config';
import { Actor, CodedError, isCodedError } from '@app/domain';
import { EXEC_BUDGET_RETRY_AFTER_SECONDS, SandboxWorkService } from '@app/sandbox';
import { RequestActor } from './auth/request-actor.decorator';
import { ExecDto, ExecResultView } from './dto/exec.dto';
import { encodeExecEvents, pacedToClient, writeExecAnswer } from './http/exec-output';
import {
  DirectoryListingView,
  FilePathQuery,
  PortsView,
  WriteFileQuery,
  WrittenFileView,
} from './dto/file.query';
import { ErrorView } from './dto/sandbox.view';
import { SandboxIdPipe } from './http/sandbox-id.pipe';
import { streamExec, streamFormatOf } from './http/exec-stream';

@ApiTags('work inside a sandbox')
@ApiNotFoundResponse({ type: ErrorView, description: 'SANDBOX_NOT_FOUND, FILE_NOT_FOUND' })
@Controller('v1/sandboxes/:id')
export class SandboxWorkController {
  constructor(
    private readonly config: FilesConfig,
    private readonly work: SandboxWorkService,
  ) {}

  @Post('exec')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run a command; with Accept: text/event-stream or application/x-ndjson, stream it',
  })
  @ApiProduces('application/json', 'text/event-stream', 'application/x-ndjson')
  @ApiOkResponse({ type: ExecResultView })
  @ApiConflictResponse({ type: ErrorView, description: 'SANDBOX_NOT_RUNNING' })
  @ApiServiceUnavailableResponse({
    type: ErrorView,
    description: 'EXEC_OUTPUT_BUDGET_EXHAUSTED (with Retry-After), RUNTIME_UNAVAILABLE',
  })
  async exec(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Body() body: ExecDto,
    @Headers('accept') accept: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    // A client that goes away kills the command (and its children) in the sandbox.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const format = streamFormatOf(accept);
      const encoding = body.outputEncoding ?? 'utf8';
      if (format === null) {
        const result = await this.work.exec(actor, id, body, abort.signal);
        try {
          await writeExecAnswer(res, result, encoding);
        } finally {
          result.release();
        }
        return;
      }
      const events = await this.work.execStream(actor, id, body, abort.signal);
      await streamExec(res, format, encodeExecEvents(pacedToClient(events, res), encoding));
    } catch (error) {
      // The client went away and the command was killed on purpose: nobody is left to answer,
      // and it is not a server fault to log as one.
      if (abort.signal.aborted) return;
      if (isCodedError(error, 'EXEC_OUTPUT_BUDGET_EXHAUSTED') && !res.headersSent) {
        res.setHeader('Retry-After', String(EXEC_BUDGET_RETRY_AFTER_SECONDS));
      }
      throw error;
    }
  }

  @Put('files')
  @ApiOperation({ summary: 'Write a file (raw body) at an absolute path' })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiOkResponse({ type: WrittenFileView })
  @ApiConflictResponse({ type: ErrorView, description: 'SANDBOX_NOT_RUNNING' })
  async writeFile(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Query() query: WriteFileQuery,
    @Req() req: Request,
  ): Promise<WrittenFileView> {
    refuseContentEncoding(req.headers['content-encoding']);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > this.config.sizeLimitBytes) {
      throw new CodedError(
        'FILE_TOO_LARGE',
        `file is larger than FILE_SIZE_LIMIT (${this.config.sizeLimitBytes} bytes)`,
      );
    }
    const mode = query.mode === undefined ? undefined : parseInt(query.mode, 8);
    const size = Number.isSafeInteger(declared) ? declared : undefined;
    const written = await this.work.writeFile(actor, id, query.path, req, { mode, size });
    return { path: written.path, size: written.size, mode: octal(written.mode) };
  }

  @Get('files')
  @ApiOperation({ summary: 'Read a file (raw bytes) or list a directory (JSON)' })
  @ApiProduces('application/octet-stream', 'application/json')
  @ApiOkResponse({ type: DirectoryListingView, description: 'A directory; a file is raw bytes' })
  async readFile(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Query() query: FilePathQuery,
    @Res() res: Response,
  ): Promise<void> {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const result = await this.work.read(actor, id, query.path, abort.signal);
    if (result.kind === 'directory') {
      const view: DirectoryListingView = {
        path: result.path,
        truncated: result.truncated,
        entries: result.entries.map((e) => ({
          name: e.name,
          type: e.type,
          size: e.size,
          mode: octal(e.mode),
          mtime: e.mtime.toISOString(),
        })),
      };
      res.status(200).json(view);
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(result.info.size));
    res.setHeader('X-File-Mode', octal(result.info.mode));
    res.setHeader('Last-Modified', result.info.mtime.toUTCString());
    try {
      await pipeline(result.content, res);
    } catch (error) {
      // The client closed mid-download: its own loss, not a server fault (the filter agrees).
      if (abort.signal.aborted) return;
      throw error;
    }
  }

  @Delete('files')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a file or directory (recursively)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiConflictResponse({ type: ErrorView, description: 'SANDBOX_NOT_RUNNING' })
  async deleteFile(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
    @Query() query: FilePathQuery,
  ): Promise<void> {
    await this.work.deleteFile(actor, id, query.path);
  }

  @Get('ports')
  @ApiOperation({ summary: 'Published ports: container port → host address and port' })
  @ApiOkResponse({ type: PortsView })
  async ports(
    @RequestActor() actor: Actor,
    @Param('id', SandboxIdPipe) id: string,
  ): Promise<PortsView> {
    return { ports: await this.work.ports(actor, id) };
  }
}

/**
 * An upload's body is stored as the bytes sent. A compressed body would be stored compressed,
 * which is rarely what the client meant, so any coding other than identity is refused.
 */
function refuseContentEncoding(encoding: string | undefined): void {
  if (encoding === undefined || /^\s*identity\s*$/i.test(encoding)) return;
  throw new CodedError(
    'UNSUPPORTED_ENCODING',
    `Content-Encoding ${JSON.stringify(encoding)} is not supported for file uploads: send the raw bytes`,
  );
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
