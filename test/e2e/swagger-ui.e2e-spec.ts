import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { TestApp, createTestApp, eventually } from '../support/app';
import { call, createKey, newAdminKey } from '../support/api-keys';
import { DEMO_IMAGE, ensureDemoImage } from '../support/docker';

/** Debian's chromium (scripts/lib/setup.sh installs it); nothing downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the screenshot goes: TEST_OUTPUT_DIR, or test/output (ignored by git). */
const OUTPUT = process.env.TEST_OUTPUT_DIR ?? join(__dirname, '..', 'output');

/**
 * A person in a real browser (issue 12): opens Swagger UI at /docs on a service with keys on,
 * authorizes with a tenant's key through the Authorize button, runs "create sandbox" with
 * "Try it out" → Execute and sees 202, and the sandbox is really there, made by that key.
 */
describe('Swagger UI in a real browser', () => {
  const admin = newAdminKey();
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)`);
    }
    await ensureDemoImage();
    t = await createTestApp('embedded', { ADMIN_API_KEY: admin, SCHEDULER_ENABLED: 'false' });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root in a container: no user namespace sandbox; a small /dev/shm.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1600 });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('should authorize with a key and create a sandbox from "Try it out"', async () => {
    const { key, id: keyId } = await createKey(base, admin, 'team-ui', 'swagger');
    await page.goto(`${base}/docs`, { waitUntil: 'networkidle0' });

    // Authorize: the bearer scheme's field, its Authorize button, then close the dialog.
    await page.click('button.btn.authorize');
    const bearer = await page.waitForSelector('.modal-ux #auth-bearer-value');
    await bearer!.type(key);
    await page.click('.modal-ux .auth-container button.authorize');
    await page.waitForSelector('.modal-ux button[aria-label="Remove authorization"]');
    await page.click('.modal-ux button.btn-done');

    // POST /v1/sandboxes: expand, Try it out, write the body, Execute.
    const operation = '#operations-sandboxes-SandboxController_create';
    await page.click(`${operation} .opblock-summary`);
    // The operation opens with an animation: wait for its button rather than click at once.
    const tryOut = await page.waitForSelector(`${operation} button.try-out__btn`);
    await tryOut!.click();
    const body = await page.waitForSelector(`${operation} textarea.body-param__text`);
    await body!.click();
    await page.keyboard.down('Control');
    await page.keyboard.press('KeyA');
    await page.keyboard.up('Control');
    await page.keyboard.press('Backspace');
    await body!.type(JSON.stringify({ image: DEMO_IMAGE, name: 'from-swagger-ui' }));
    await page.click(`${operation} button.execute`);

    const status = await page.waitForSelector(
      `${operation} .live-responses-table .response .response-col_status`,
    );
    const shown = (await status!.evaluate((cell) => cell.textContent ?? '')).trim();
    mkdirSync(OUTPUT, { recursive: true });
    // The operation as the person sees it: the body sent, the curl with its key, the answer.
    const block = await page.$(operation);
    await block!.screenshot({ path: join(OUTPUT, 'swagger-ui-create-sandbox.png') });
    expect(['200', '202']).toContain(shown);

    // The sandbox exists, and the key Swagger UI sent is the one that was used.
    const made = await call(base, 'GET', '/v1/sandboxes/from-swagger-ui', { key });
    expect(made.status).toBe(200);
    const used = await eventually(async () => {
      const listed = await call(base, 'GET', '/v1/admin/api-keys?tenant=team-ui', { key: admin });
      return listed.body.items.find((k: { id: string }) => k.id === keyId)?.lastUsedAt ?? undefined;
    });
    expect(used).toEqual(expect.any(String));
    await call(base, 'DELETE', `/v1/sandboxes/${made.body.id}?force=true`, { key });
  });
});
