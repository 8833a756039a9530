import { SandboxEntity, SandboxMetaStore } from '@app/meta-store';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  makeSandboxInfo,
  makeSandboxSpec,
} from '../../libs/meta-store/src/testing/sandbox-fixtures';
import { TestApp, createTestApp } from '../support/app';

/**
 * A sandbox whose stored record fails its schema answers 500 RECORD_CORRUPT (with the errorId of
 * the log line) on its own; the list and every other sandbox keep working.
 */
describe.each(['postgres+redis', 'embedded'] as const)(
  'a corrupt stored record (%s)',
  (backend) => {
    let t: TestApp;
    let http: ReturnType<typeof request>;

    beforeAll(async () => {
      t = await createTestApp(backend);
      http = request(t.app.getHttpServer());
    });

    afterAll(async () => {
      await t?.close();
    });

    it('answers RECORD_CORRUPT for that sandbox only, and the list leaves it out', async () => {
      const store = t.app.get(SandboxMetaStore);
      const labels = { suite: 'record-corrupt' };
      const insert = async (id: string): Promise<void> => {
        await store.insert({
          info: makeSandboxInfo({
            id,
            state: 'stopped',
            operation: null,
            labels,
            instanceId: t.config.docker.instanceId,
          }),
          spec: makeSandboxSpec({ labels }),
          machineSnapshot: null,
          machineVersion: 'v1',
        });
      };
      await insert('sbx-corrupt-good');
      await insert('sbx-corrupt-bad');
      await t.app
        .get(DataSource)
        .createQueryBuilder()
        .update(SandboxEntity)
        .set({ info: () => "'{not json'" })
        .where('id = :id', { id: 'sbx-corrupt-bad' })
        .execute();

      const bad = await http.get('/v1/sandboxes/sbx-corrupt-bad');
      expect(bad.status).toBe(500);
      expect(bad.body).toMatchObject({ code: 'RECORD_CORRUPT' });
      expect(typeof bad.body.errorId).toBe('string');

      const good = await http.get('/v1/sandboxes/sbx-corrupt-good');
      expect(good.status).toBe(200);
      const list = await http.get('/v1/sandboxes?label=suite=record-corrupt');
      expect(list.status).toBe(200);
      expect((list.body.items as { id: string }[]).map((i) => i.id)).toEqual(['sbx-corrupt-good']);
    });
  },
);
