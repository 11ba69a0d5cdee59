// Every page of the web app has zero WCAG 2.1 A/AA violations reported by axe-core run in the page (with its data
// loaded and the map drawn), and a screenshot of each is saved as an artifact.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  FIXTURE, api, assertAccessible, assertNoErrors, jumpTo, launch, newPage, open, screenshot, signIn,
} from './helpers.mjs';

let browser;
let report;
before(async () => {
  browser = await launch();
  // A report of its own to show on /segnalazioni/{id}.
  const { lon, lat } = FIXTURE.report;
  const created = await api('POST', '/api/reports', {
    body: { lon: lon + 0.001, lat, category: 'illuminazione', description: 'Lampione spento in via Roma' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  report = created.body;
});
after(async () => {
  await browser?.close();
});

/** Central Genova, where the stations, reports and the zoning plan are. */
const GENOVA = { lon: 8.945, lat: 44.412, zoom: 13 };

/**
 * Waits until the page's map (if it has one) is loaded and idle, so that axe and the screenshot see it drawn;
 * `view` moves it to central Genova first (the territory's extent reaches Lamezia Terme in this fixture).
 */
async function settled(page, view) {
  if (!(await page.locator('#map').isVisible())) return;
  await page.locator('#map[data-loaded]').waitFor({ state: 'attached' });
  if (view) await jumpTo(page, GENOVA.lon, GENOVA.lat, GENOVA.zoom);
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.vedetta?.map;
    if (!map || map.loaded()) return resolve();
    map.once('idle', () => resolve());
    setTimeout(resolve, 5_000);
  }));
}

async function check(path, name, prepare, { map = true, view = true } = {}) {
  const page = await newPage(browser);
  if (prepare) {
    await prepare(page);
  } else {
    await open(page, path);
  }
  if (map) await settled(page, view);
  await screenshot(page, name);
  await assertAccessible(page, path);
  assertNoErrors(page);
  await page.context().close();
}

// The permalink puts the public map on Genova.
const PERMALINK = `/#${GENOVA.zoom.toFixed(2)}/${GENOVA.lat.toFixed(5)}/${GENOVA.lon.toFixed(5)}`;

test('/ (public map)', { timeout: 30_000 }, () => check(PERMALINK, 'pagina-mappa', undefined, { view: false }));

test('/ in English', { timeout: 30_000 }, () => check(PERMALINK, 'pagina-mappa-en', async (page) => {
  await open(page, PERMALINK);
  await page.locator('#lang-toggle').click();
  await page.locator('html[lang="en"]').waitFor({ state: 'attached' });
}));

test('/segnala (citizen report)', { timeout: 30_000 }, () => check('/segnala', 'pagina-segnala'));

test('/segnala on a phone', { timeout: 30_000 }, () => check('/segnala', 'pagina-segnala-telefono', async (page) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await open(page, '/segnala');
}));

// Before signing in the dashboard (and its map) is not there yet.
test('/protezione-civile (sign-in form)', { timeout: 30_000 }, () =>
  check('/protezione-civile', 'pagina-protezione-civile-accesso', undefined, { map: false }));

test('/protezione-civile (signed in)', { timeout: 30_000 }, () => check('/protezione-civile', 'pagina-protezione-civile', signIn));

test('/pianificazione (planner)', { timeout: 30_000 }, () => check('/pianificazione', 'pagina-pianificazione'));

test('/trasparenza (open data)', { timeout: 30_000 }, () => check('/trasparenza', 'pagina-trasparenza'));

test('/segnalazioni/{id} (tracking)', { timeout: 30_000 }, () => {
  const path = `/segnalazioni/${report.report.id}?token=${report.tracking_token}`;
  return check(path, 'pagina-segnalazione', async (page) => {
    await open(page, path);
    await page.locator(`#report-detail[data-report-id="${report.report.id}"]`).waitFor({ state: 'attached' });
  });
});

test('/segnalazioni/{id} (public, without the token)', { timeout: 30_000 }, () =>
  check(`/segnalazioni/${report.report.id}`, 'pagina-segnalazione-pubblica'));
