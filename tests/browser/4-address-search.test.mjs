// The address search of the public map finds a house number (ANNCSU) and the map flies there: its centre and the
// permalink in the URL follow; the permalink opened again shows the same place.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { FIXTURE, assertNoErrors, launch, mapLoaded, newPage, open, screenshot, until } from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** `#z/lat/lon` → numbers. */
function permalink(hash) {
  const m = /^#([\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(hash);
  return m ? { zoom: Number(m[1]), lat: Number(m[2]), lon: Number(m[3]) } : undefined;
}

test('the address search finds a civico and flies there, with the permalink', { timeout: 60_000 }, async () => {
  const address = FIXTURE.address;
  // Reduced motion, as MapLibre honours it: the flight across Italy, drawn by a software GPU, would take seconds.
  const page = await newPage(browser, { reducedMotion: 'reduce' });
  await open(page, '/');
  await mapLoaded(page);
  const start = await page.evaluate(() => window.vedetta.map.getCenter().toArray());
  assert.ok(Math.abs(start[1] - address.lat) > 1, 'the map starts far from the address');

  await page.locator('#search-input').fill(address.query);
  const option = page.locator('[data-testid="search-result"]', { hasText: address.label });
  await option.first().waitFor({ state: 'visible' });
  assert.equal(await option.first().getAttribute('data-kind'), 'civico');
  assert.ok(Math.abs(Number(await option.first().getAttribute('data-lat')) - address.lat) < 1e-5);
  await screenshot(page, 'mappa-ricerca');
  await option.first().click();

  const near = (lat, lon) => Math.abs(lat - address.lat) < 0.001 && Math.abs(lon - address.lon) < 0.001;
  const link = await until(async () => {
    const p = permalink(await page.evaluate(() => location.hash));
    return p && near(p.lat, p.lon) ? p : undefined;
  }, 15_000, 'the permalink to reach the address');
  assert.ok(link.zoom >= 16, `zoomed in on the house number (${link.zoom})`);
  const [lon, lat] = await page.evaluate(() => window.vedetta.map.getCenter().toArray());
  assert.ok(near(lat, lon), `the map is centred on the address (${lat}, ${lon})`);
  const center = await page.locator('#map').getAttribute('data-center');
  assert.ok(center && near(...center.split(',').map(Number)), `#map[data-center] follows (${center})`);
  await screenshot(page, 'mappa-indirizzo');

  // The permalink, opened in a new page, shows the same place.
  const again = await newPage(browser);
  await open(again, `/${await page.evaluate(() => location.hash)}`);
  await mapLoaded(again);
  const [lon2, lat2] = await again.evaluate(() => window.vedetta.map.getCenter().toArray());
  assert.ok(near(lat2, lon2), `the permalink opens at the address (${lat2}, ${lon2})`);
  assertNoErrors(page);
  assertNoErrors(again);
});
