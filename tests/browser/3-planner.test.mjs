// A planner clicks a zone of the plan in force on /pianificazione and reads its code and NTA article; another
// click, on the neighbouring zone, reads that one.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { FIXTURE, assertNoErrors, clickMap, jumpTo, launch, mapLoaded, newPage, open, screenshot } from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a click on the map of /pianificazione reads the zone in force there', { timeout: 60_000 }, async () => {
  const { lon, lat, code, nta, other } = FIXTURE.zoning;
  const page = await newPage(browser);
  await open(page, '/pianificazione');
  await mapLoaded(page);
  // Both zones of the plan in view: the one clicked first, and its neighbour 0.02° east.
  await jumpTo(page, lon + 0.01, lat, 14);

  await clickMap(page, lon, lat);
  const result = page.locator('#zoning-result');
  await page.locator('#zoning-result[data-state="done"]').waitFor({ state: 'attached' });
  const zone = result.locator(`[data-zone-code="${code}"]`);
  await zone.waitFor({ state: 'visible' });
  const text = await zone.innerText();
  assert.ok(text.includes(code), `the zone's code in "${text}"`);
  assert.ok(text.includes(nta), `the NTA article in "${text}"`);
  assert.equal(await result.locator(`[data-zone-code="${other}"]`).count(), 0, 'only the zone clicked');
  await screenshot(page, 'pianificazione-zona');

  // The zone next door.
  await clickMap(page, lon + 0.02, lat);
  await result.locator(`[data-zone-code="${other}"]`).waitFor({ state: 'visible' });
  assert.equal(await result.locator(`[data-zone-code="${code}"]`).count(), 0, 'the first zone is gone');
  assertNoErrors(page);
});
