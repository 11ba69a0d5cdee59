// A hydrometer crosses its red threshold: on the dashboard already open, its row and its map marker turn red
// within 2 seconds of the reading's publication over MQTT, and the alert appears in the alert list.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  FIXTURE, assertNoErrors, jumpTo, launch, mapLoaded, newPage, publish, screenshot, signIn, until,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/**
 * The station's marker as MapLibre draws it now: its `level` attribute and the circle colour evaluated by the style
 * (`{r, g, b}` in 0…1), read from the rendered features. Undefined while the station is not drawn.
 */
async function marker(page, code) {
  return page.evaluate((code) => {
    const map = window.vedetta?.map;
    if (!map) return undefined;
    const f = map.queryRenderedFeatures().find((f) => f.properties?.code === code && f.layer.type === 'circle');
    if (!f) return undefined;
    const { r, g, b } = f.layer.paint['circle-color'];
    return { level: f.properties.level, silent: f.properties.silent, r, g, b };
  }, code);
}

/** Red as the style draws rossa (#c62828), not gialla, arancione or the grey of a silent station. */
const isRed = (m) => m !== undefined && m.r > 0.6 && m.g < 0.3 && m.b < 0.3;

test('a hydrometer crossing red turns red on the open dashboard within 2 s and raises the alert', { timeout: 60_000 }, async () => {
  const station = FIXTURE.station;
  const page = await newPage(browser);
  await signIn(page);
  const row = page.locator(`#stations-list [data-station-code="${station.code}"]`);
  await row.waitFor({ state: 'attached' });
  assert.notEqual(await row.getAttribute('data-level'), 'rossa', 'not red before the reading');
  await mapLoaded(page);
  await jumpTo(page, station.lon, station.lat, 13);
  const before = await until(() => marker(page, station.code), 10_000, 'the station drawn on the map');
  assert.ok(!isRed(before) && before.level !== 'rossa', `the marker is not red before the reading: ${JSON.stringify(before)}`);
  await screenshot(page, 'protezione-civile-prima');

  const published = Date.now();
  publish(station.topic, JSON.stringify({ t: new Date().toISOString(), v: station.red_reading }));
  await until(async () => (await row.getAttribute('data-level')) === 'rossa', 2_000 - (Date.now() - published),
    'the station row to turn red');
  const rowMs = Date.now() - published;
  await until(async () => isRed(await marker(page, station.code)),
    2_000 - (Date.now() - published), 'the station marker to turn red');
  const markerMs = Date.now() - published;
  const alert = page.locator('#alerts-list [data-alert-id][data-level="rossa"]');
  await alert.first().waitFor({ state: 'visible', timeout: Math.max(1, 2_000 - (Date.now() - published)) });
  const alertMs = Date.now() - published;
  console.log(`red: row after ${rowMs} ms, marker after ${markerMs} ms, alert listed after ${alertMs} ms`);
  assert.equal(await alert.first().getAttribute('data-state'), 'firing');
  assert.equal(Number(await row.getAttribute('data-value')), station.red_reading);
  await screenshot(page, 'protezione-civile-allerta-rossa');

  // The operator acknowledges it from the list.
  await alert.first().locator('[data-action="acknowledge"]').click();
  await page.locator('#alerts-list [data-alert-id][data-level="rossa"][data-acknowledged="true"]')
    .first().waitFor({ state: 'attached' });
  assertNoErrors(page);
});
