// The map's popups and the duplicate control of the reports queue: a click on a station of the public map opens
// its popup with the level its marker and its row show (and the list's map button opens it from the keyboard); a
// click on a report opens its popup with the link to its page; on the dashboard a station's popup leads to its
// chart, and an operator marks a report as a duplicate of a nearby one by its number.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  FIXTURE, api, assertAccessible, assertNoErrors, clickMap, jumpTo, launch, mapLoaded, newPage, open, screenshot,
  signIn, until,
} from './helpers.mjs';

let browser;
let original;
let copy;
before(async () => {
  browser = await launch();
  // Two reports of the same pothole, a few metres apart, east of the other tests' ones.
  const { lon, lat } = FIXTURE.report;
  const file = async (dlon, description) => {
    const created = await api('POST', '/api/reports', {
      token: FIXTURE.admin_token,
      body: { lon: lon + dlon, lat: lat + 0.002, category: 'buca_stradale', description },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.report;
  };
  original = await file(0.004, 'Buca larga in mezzo alla carreggiata');
  copy = await file(0.00405, 'Buca sulla strada, la stessa di ieri');
});
after(async () => {
  await browser?.close();
});

/** The station's marker as drawn (its tile attributes), or undefined while it is not drawn. */
async function marker(page, code) {
  return page.evaluate((code) => {
    const f = window.vedetta?.map?.queryRenderedFeatures().find((f) => f.properties?.code === code && f.layer.type === 'circle');
    return f ? { level: f.properties.level, silent: f.properties.silent } : undefined;
  }, code);
}

/** Whether the focus is inside the open popup. */
const focusInPopup = (page) => page.evaluate(() => !!document.activeElement?.closest('.vedetta-popup'));

test('a station clicked on the public map shows its popup with its level; the keyboard opens it from the list', { timeout: 45_000 }, async () => {
  const station = FIXTURE.station;
  const page = await newPage(browser);
  await open(page, `/#14.00/${station.lat}/${station.lon}`);
  await mapLoaded(page);
  await jumpTo(page, station.lon, station.lat, 14);
  const drawn = await until(() => marker(page, station.code), 10_000, 'the station drawn on the map');
  const row = page.locator(`#stations-list [data-station-code="${station.code}"]`);
  const rowLevel = await row.getAttribute('data-level');
  assert.equal(drawn.level, rowLevel, 'the marker and the row agree');

  await clickMap(page, station.lon, station.lat);
  const popup = page.locator(`.vedetta-popup [data-popup="station"][data-code="${station.code}"]`);
  await popup.waitFor({ state: 'visible' });
  assert.equal(await popup.getAttribute('data-level'), rowLevel, 'the popup shows the station\'s level');
  assert.equal(await popup.locator(`[data-field="level"] .badge[data-level="${rowLevel}"]`).count(), 1, 'in a badge with its name');
  assert.equal(await popup.getAttribute('data-silent'), String((await row.getAttribute('data-state')) === 'silent'));
  assert.match(await popup.locator('[data-field="kind"]').innerText(), /idrometro/);
  const value = Number(await row.getAttribute('data-value'));
  assert.match(await popup.locator('[data-field="value"]').innerText(), new RegExp(`${String(value).replace('.', ',')} m`));
  assert.match(await popup.locator('.popup-title').innerText(), new RegExp(station.code));
  assert.ok(await focusInPopup(page), 'the focus is in the popup');
  await screenshot(page, 'mappa-popup-stazione');
  await assertAccessible(page, '/ with a station popup');

  // In English too.
  await page.locator('#lang-toggle').click();
  await until(async () => /hydrometer/.test(await popup.locator('[data-field="kind"]').innerText()), 2_000, 'the popup in English');
  await page.locator('#lang-toggle').click();

  // Escape closes it (the focus back in it: the language toggle had it).
  await popup.locator('[data-action="close-popup"]').focus();
  await page.keyboard.press('Escape');
  await popup.waitFor({ state: 'detached' });

  // From the keyboard: the row's map button opens it, Escape closes it and the focus is back on the button.
  const button = row.locator('[data-action="show-on-map"]');
  await button.focus();
  await page.keyboard.press('Enter');
  await popup.waitFor({ state: 'visible' });
  assert.ok(await focusInPopup(page), 'the focus is in the popup');
  await page.keyboard.press('Escape');
  await popup.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset?.action), 'show-on-map', 'the focus is back');

  // A report: its popup links to its page.
  const { lon, lat } = { lon: original.lon, lat: original.lat };
  await jumpTo(page, lon, lat, 17);
  await until(() => page.evaluate((id) => window.vedetta.map.queryRenderedFeatures()
    .some((f) => f.sourceLayer === 'reports' && f.id === id), original.id), 10_000, 'the report drawn on the map');
  await clickMap(page, lon, lat);
  const reportPopup = page.locator(`.vedetta-popup [data-popup="report"][data-report-id="${original.id}"]`);
  await reportPopup.waitFor({ state: 'visible' });
  assert.equal(await reportPopup.getAttribute('data-status'), original.status);
  assert.equal(await reportPopup.locator('a[data-action="open-report"]').getAttribute('href'), `/segnalazioni/${original.id}`);
  assert.match(await reportPopup.locator('[data-field="category"]').innerText(), /Buca/);
  assert.match(await reportPopup.locator('[data-field="supporters"]').innerText(), /^\d+$/);
  await screenshot(page, 'mappa-popup-segnalazione');
  assertNoErrors(page);
  await page.context().close();
});

test('on the dashboard a station popup leads to its chart, and a report is marked as a duplicate of another', { timeout: 45_000 }, async () => {
  const station = FIXTURE.station;
  const page = await newPage(browser);
  await signIn(page);
  await mapLoaded(page);
  await jumpTo(page, station.lon, station.lat, 14);
  await until(() => marker(page, station.code), 10_000, 'the station drawn on the map');
  await clickMap(page, station.lon, station.lat);
  const popup = page.locator(`.vedetta-popup [data-popup="station"][data-code="${station.code}"]`);
  await popup.waitFor({ state: 'visible' });
  const row = page.locator(`#stations-list [data-station-code="${station.code}"]`);
  assert.equal(await popup.getAttribute('data-level'), await row.getAttribute('data-level'));
  await popup.locator('[data-action="chart"]').click();
  await page.locator(`#station-panel[data-station-code="${station.code}"]`).waitFor({ state: 'visible' });
  await page.locator('#station-chart').waitFor({ state: 'attached' });

  // The copy: its duplicate form offers the nearby original; without a number it says what is missing.
  const item = page.locator(`#reports-queue [data-report-id="${copy.id}"]`);
  await item.waitFor({ state: 'visible' });
  await item.locator('details.duplicate summary').click();
  await item.locator('[data-transition="duplicate"]').click();
  await until(async () => (await page.locator('#reports-error').innerText()).includes(`#${copy.id}`), 2_000, 'the error');
  await page.locator(`#dup-near-${copy.id} option[value="${original.id}"]`).waitFor({ state: 'attached' });
  await item.locator('[data-field="duplicate-of"]').fill(String(original.id));
  await screenshot(page, 'protezione-civile-duplicato');
  await assertAccessible(page, '/protezione-civile with a duplicate form open');
  await item.locator('[data-transition="duplicate"]').click();
  await item.waitFor({ state: 'detached' });
  const stored = await api('GET', `/api/reports/${copy.id}`, { token: FIXTURE.admin_token });
  assert.equal(stored.body.status, 'duplicate', JSON.stringify(stored.body));
  assert.equal(stored.body.duplicate_of, original.id);
  assert.equal(await page.locator(`#reports-queue [data-report-id="${original.id}"][data-status="new"]`).count(), 1,
    'the original stays in the queue');
  assertNoErrors(page);
  await page.context().close();
});
