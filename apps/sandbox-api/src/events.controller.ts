import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Actor, validationError } from '@app/domain';
import { EventFeed, EventPage, EventQuery } from '@app/sandbox';
import { EVENT_CURSOR, ListEventsQuery } from './dto/list-events.query';
import { RequestActor } from './auth/request-actor.decorator';
import { streamEvents } from './http/event-stream';

@ApiTags('events')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly feed: EventFeed) {}

  @Get()
  @ApiOperation({
    summary: 'Page through lifecycle events, or stream them live (Accept: text/event-stream)',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'SSE: resume after this id' })
  @ApiOkResponse({ description: '{ items: [event…], next }, or an SSE stream of events' })
  async list(
    @Query() query: ListEventsQuery,
    @Headers('accept') accept: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @RequestActor() actor: Actor,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<EventPage | undefined> {
    if (lastEventId !== undefined && !EVENT_CURSOR.test(lastEventId)) {
      throw validationError('Last-Event-ID', 'must be an event id (a non-negative integer)');
    }
    const base: Omit<EventQuery, 'afterId'> = {
      types: query.type,
      sandboxId: query.sandbox,
      // A tenant key sees its own tenant's events only.
      tenant: actor.kind === 'tenant' ? (actor.tenant ?? '') : undefined,
      limit: query.limit ?? 100,
    };
    const cursor = lastEventId ?? query.after;
    if (!(accept ?? '').includes('text/event-stream')) {
      return this.feed.page({ ...base, afterId: cursor === undefined ? 0 : Number(cursor) });
    }
    // A new stream starts at the newest event; a resumed one right after the last it received.
    const afterId = cursor === undefined ? await this.feed.latestId() : Number(cursor);
    await streamEvents(request, response, (signal) =>
      this.feed.follow({ ...base, afterId }, signal),
    );
    return undefined;
  }
}
