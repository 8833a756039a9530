import { randomUUID } from 'node:crypto';
import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { challengeHeadersOf } from '@app/auth';
import { CodedError, ErrorCode, httpStatusOf } from '@app/domain';
import { isRockPath, rockEnvelopeForError } from '@app/rock';
import { clientGone } from './client-gone';

interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  errorId?: string;
}

/**
 * Turns anything thrown into the one error shape `{statusCode, code, message, details?}`. A 5xx
 * gets an `errorId` that is also logged, so an operator can find the cause from a client report.
 * A failure caused by the client hanging up (an aborted upload, download or stream) is not a 5xx:
 * there is nobody to answer, and it is logged at debug level only. Under ROCK's prefix the answer
 * is ROCK's HTTP 200 Failed envelope instead (@app/rock).
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<Request>();
    if (clientGone(request, response)) {
      const why = exception instanceof Error ? exception.message : String(exception);
      this.logger.debug(`client went away: ${request.method} ${request.path}: ${why}`);
      return;
    }
    const body = this.toBody(exception);
    if (body.statusCode >= 500) {
      body.errorId = randomUUID();
      const detail =
        exception instanceof Error ? (exception.stack ?? exception.message) : exception;
      this.logger.error(`errorId=${body.errorId} ${body.code}: ${body.message}`, detail);
    }
    if (response.headersSent) {
      // Mid-answer: the status is gone already; a cut connection tells the client it failed.
      response.destroy();
      return;
    }
    // A body left unread (refused before or while reading it): closing after the answer spares
    // reading the rest, which may be endless.
    if (!request.complete) response.setHeader('Connection', 'close');
    // WWW-Authenticate on a 401, Retry-After on a 429 of too many failed authentications.
    for (const [name, value] of Object.entries(challengeHeadersOf(exception))) {
      response.setHeader(name, value);
    }
    // ROCK's SDK reads only its own envelope, always with HTTP 200 (raise_for_status otherwise).
    if (isRockPath(request.path)) {
      response.status(200).json(rockEnvelopeForError(request.path, exception, body.errorId));
      return;
    }
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof CodedError) {
      return {
        statusCode: httpStatusOf(exception.code),
        code: exception.code,
        message: exception.message,
        ...(exception.details ? { details: exception.details } : {}),
      };
    }
    if (exception instanceof HttpException) {
      const status: number = exception.getStatus();
      if (status === Number(HttpStatus.NOT_FOUND))
        return this.coded('ROUTE_NOT_FOUND', exception.message);
      if (status === Number(HttpStatus.PAYLOAD_TOO_LARGE)) {
        return this.coded('PAYLOAD_TOO_LARGE', exception.message);
      }
      if (status < 500) {
        return { statusCode: status, code: 'VALIDATION_FAILED', message: exception.message };
      }
    }
    return this.coded('INTERNAL_ERROR', 'internal error');
  }

  private coded(code: ErrorCode, message: string): ErrorBody {
    return { statusCode: httpStatusOf(code), code, message };
  }
}
