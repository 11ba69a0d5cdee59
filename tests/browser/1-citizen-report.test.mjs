// A citizen files a report with a photo on /segnala (a phone's screen, tapping the map); it appears on the
// civil-protection dashboard already open in another browser without a reload; the operator moves it to
// in_progress; the citizen's tracking link shows the new status.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  FIXTURE, api, assertNoErrors, clickMap, jumpTo, launch, mapLoaded, newPage, open, pngImage, screenshot, signIn,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a report filed on /segnala reaches the open dashboard live and its tracking page follows the workflow', { timeout: 60_000 }, async () => {
  const { lon, lat, comune, category } = FIXTURE.report;

  // The operator's dashboard is open first.
  const dashboard = await newPage(browser);
  await signIn(dashboard);
  // A marker that a reload would wipe out.
  await dashboard.evaluate(() => {
    window.__notReloaded = true;
  });

  // The citizen, on a phone.
  const phone = await newPage(browser, {
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  await open(phone, '/segnala');
  await mapLoaded(phone);
  await jumpTo(phone, lon, lat, 16);
  await clickMap(phone, lon, lat, { tap: true });
  const location = phone.locator('#report-location');
  await phone.locator('#report-location[data-lat]').waitFor({ state: 'attached' });
  assert.ok(Math.abs(Number(await location.getAttribute('data-lat')) - lat) < 0.0005, 'the tapped latitude');
  assert.ok(Math.abs(Number(await location.getAttribute('data-lon')) - lon) < 0.0005, 'the tapped longitude');
  await phone.locator(`#report-comune[data-code="${comune}"]`).waitFor({ state: 'attached' });

  await phone.locator(`#report-category option[value="${category}"]`).waitFor({ state: 'attached' });
  await phone.locator('#report-category').selectOption(category);
  const description = 'Buca profonda davanti al civico 3, pericolosa per gli scooter';
  await phone.locator('#report-description').fill(description);
  await phone.locator('#report-photos').setInputFiles({
    name: 'buca.png',
    mimeType: 'image/png',
    buffer: pngImage(),
  });
  await screenshot(phone, 'segnala-compilata');
  await phone.locator('#report-submit').click();

  await phone.locator('#report-confirmation').waitFor({ state: 'visible' });
  const href = await phone.locator('#tracking-link').getAttribute('href');
  const match = /\/segnalazioni\/(\d+)\?token=(vtr_[A-Za-z0-9_-]+)/.exec(href ?? '');
  assert.ok(match, `a tracking link: ${href}`);
  const id = match[1];
  await screenshot(phone, 'segnala-conferma');

  // Stored with its photo and the text as typed.
  const stored = await api('GET', `/api/reports/${id}`, { token: FIXTURE.admin_token });
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.equal(stored.body.description, description);
  assert.equal(stored.body.category, category);
  assert.equal(stored.body.photos?.length, 1, JSON.stringify(stored.body));

  // On the open dashboard, without a reload.
  const item = dashboard.locator(`#reports-queue [data-report-id="${id}"]`);
  await item.waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await dashboard.evaluate(() => window.__notReloaded), true, 'the dashboard was not reloaded');
  assert.equal(await item.getAttribute('data-status'), 'new');
  await screenshot(dashboard, 'protezione-civile-segnalazione-arrivata');

  // The operator takes it in hand.
  await item.locator('[data-transition="in_progress"]').click();
  await dashboard.locator(`#reports-queue [data-report-id="${id}"][data-status="in_progress"]`)
    .waitFor({ state: 'attached' });
  const moved = await api('GET', `/api/reports/${id}`, { token: FIXTURE.admin_token });
  assert.equal(moved.body.status, 'in_progress', JSON.stringify(moved.body));

  // The citizen follows the tracking link.
  await phone.locator('#tracking-link').click();
  await phone.waitForURL(/\/segnalazioni\/\d+/);
  await phone.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  await phone.locator('#report-status[data-status="in_progress"]').waitFor({ state: 'attached' });
  await phone.locator('#report-history [data-status="in_progress"]').first().waitFor({ state: 'attached' });
  assert.ok((await phone.locator('#report-detail-photos img').count()) >= 1, 'the photo is shown');
  await screenshot(phone, 'segnalazione-in-lavorazione');

  assertNoErrors(dashboard);
  assertNoErrors(phone);
});
