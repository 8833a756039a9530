import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Post,
  Query,
  Req,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { FileInterceptor } from '@nestjs/platform-express';
import { rm } from 'node:fs/promises';
import { Actor } from '@app/domain';
import { ROCK_PREFIX, RockEnvelope, RockSandboxes, SpooledUpload } from '@app/rock';
import { RequestActor } from '../auth/request-actor.decorator';
import type { ActorRequest } from '../auth/request-actor.decorator';
import { KeyHeader } from '../auth/access.decorator';
import { RockForwardingInterceptor } from '../cluster/rock-forwarding.interceptor';
import { RockUploadForwarder } from '../cluster/rock-upload-forwarder';

type Json = Record<string, unknown>;
type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * ROCK's sandbox API (`{base_url}/apis/envs/sandbox/v1`), so ROCK's own SDKs drive sandboxd by
 * changing base_url alone. Bodies are taken as they come (no DTO: the validation pipe passes them
 * through) and read by @app/rock, which answers ROCK's HTTP 200 envelope for success and failure
 * alike; what escapes a handler is answered the same way by the global ErrorFilter.
 */
@ApiExcludeController()
@UseInterceptors(RockForwardingInterceptor)
@Controller(ROCK_PREFIX)
// ROCK's server reads X-Key as the caller's key; ROCK users already set it in extra_headers.
@KeyHeader('X-Key')
export class RockController {
  constructor(
    private readonly rock: RockSandboxes,
    private readonly uploads: RockUploadForwarder,
  ) {}

  @Post('start_async')
  @HttpCode(200)
  startAsync(
    @RequestActor() actor: Actor,
    @Body() body: unknown,
    @Headers() headers: HeaderBag,
  ): Promise<RockEnvelope> {
    return this.rock.startAsync(actor, body, headers);
  }

  @Get('get_status')
  getStatus(@RequestActor() actor: Actor, @Query() query: Json): Promise<RockEnvelope> {
    return this.rock.getStatus(actor, query);
  }

  @Get('is_alive')
  isAlive(@RequestActor() actor: Actor, @Query() query: Json): Promise<RockEnvelope> {
    return this.rock.isAlive(actor, query);
  }

  @Post('stop')
  @HttpCode(200)
  stop(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.stop(actor, body);
  }

  @Post('restart')
  @HttpCode(200)
  restart(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.restart(actor, body);
  }

  @Post('delete')
  @HttpCode(200)
  delete(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.delete(actor, body);
  }

  @Post('execute')
  @HttpCode(200)
  execute(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.execute(actor, body);
  }

  @Post('create_session')
  @HttpCode(200)
  createSession(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.createSession(actor, body);
  }

  @Post('run_in_session')
  @HttpCode(200)
  runInSession(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.runInSession(actor, body);
  }

  @Post('close_session')
  @HttpCode(200)
  closeSession(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.closeSession(actor, body);
  }

  @Post('write_file')
  @HttpCode(200)
  writeFile(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.writeFile(actor, body);
  }

  @Post('read_file')
  @HttpCode(200)
  readFile(@RequestActor() actor: Actor, @Body() body: unknown): Promise<RockEnvelope> {
    return this.rock.readFile(actor, body);
  }

  /** Multipart `file`, `target_path`, `sandbox_id`; the file is spooled to disk (MulterModule). */
  @Post('upload')
  @HttpCode(200)
  @UseInterceptors(FileInterceptor('file'))
  async upload(
    @RequestActor() actor: Actor,
    @Body() fields: unknown,
    @UploadedFile() file: SpooledUpload | undefined,
    @Req() request: ActorRequest,
  ): Promise<RockEnvelope> {
    try {
      const form = typeof fields === 'object' && fields !== null ? (fields as Json) : {};
      // Cluster mode: another node's sandbox gets the upload from its own instance.
      const forwarded = await this.uploads.viaOwner(request, actor, form, file);
      if (forwarded !== null) return forwarded as RockEnvelope;
      return await this.rock.upload(actor, form, file);
    } finally {
      if (file) await rm(file.path, { force: true });
    }
  }

  /** The SDK asks for OSS credentials around uploads; without OSS, Failed is the answer it expects. */
  @Get('get_token')
  getToken(): RockEnvelope {
    return this.rock.unsupported('get_token', 'there is no OSS here; uploads go through /upload');
  }

  @Post('sandboxes/:id/archive')
  @HttpCode(200)
  archive(): RockEnvelope {
    return this.rock.unsupported('archive', 'stopped sandboxes keep their container until deleted');
  }

  @Post('commit')
  @HttpCode(200)
  commit(): RockEnvelope {
    return this.rock.unsupported('commit', 'images are not built from sandboxes');
  }

  @Get('commit/:id')
  commitStatus(): RockEnvelope {
    return this.rock.unsupported('commit', 'images are not built from sandboxes');
  }
}
