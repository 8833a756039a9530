import type request from 'supertest';
import { DEMO_IMAGE } from './docker';

type Json = Record<string, any>;

/** Creates a sandbox of the demo image (plus `body`) with `?wait=true` and checks it is running. */
export async function createRunning(
  http: ReturnType<typeof request>,
  body: Json = {},
): Promise<Json> {
  const res = await http
    .post('/v1/sandboxes?wait=true')
    .send({ image: DEMO_IMAGE, ...body })
    .expect(200);
  expect(res.body.state).toBe('running');
  return res.body as Json;
}
