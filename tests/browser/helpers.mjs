// Shared by Vedetta's browser tests: the fixture the Rust side prepared, one headless Chromium per test file,
// pages that fail on uncaught script errors, screenshots, axe-core, and the small tools the scenarios need.
//
// Started by tests/e2e/browser.rs with BASE_URL, FIXTURE (JSON), ARTIFACTS_DIR and CHROMIUM_PATH in the
// environment. The element ids are the web app's test hooks (webmap/assets/, listed in the webapp helper's notes).

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const BASE_URL = (process.env.BASE_URL ?? '').replace(/\/$/, '');
export const FIXTURE = JSON.parse(process.env.FIXTURE ?? '{}');
export const ARTIFACTS_DIR = process.env.ARTIFACTS_DIR ?? join(process.cwd(), 'artifacts');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!BASE_URL) {
  throw new Error('BASE_URL is not set: these tests are started by `cargo test -p vedetta --test e2e browser`');
}

/** Headless Debian Chromium; WebGL (MapLibre needs it) through ANGLE on SwiftShader, no GPU, no sandbox (root). */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
}

/**
 * A new page in a context of its own (its own cookies and localStorage): a desktop screen unless `options`
 * say otherwise. Uncaught script errors are collected in `page.errors` (see `assertNoErrors`); console errors
 * are kept in `page.consoleErrors` and printed when a test fails.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    locale: 'it-IT',
    timezoneId: 'Europe/Rome',
    ...options,
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.errors = [];
  page.consoleErrors = [];
  page.on('pageerror', (error) => page.errors.push(String(error?.stack ?? error)));
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(message.text());
  });
  return page;
}

/** No uncaught script error happened on the page. */
export function assertNoErrors(page) {
  assert.deepEqual(
    page.errors,
    [],
    `uncaught script errors on ${page.url()}:\n${page.errors.join('\n')}\nconsole errors:\n${page.consoleErrors.join('\n')}`,
  );
}

/** Opens `path` and waits for the page's first data load (`body[data-ready="true"]`). */
export async function open(page, path) {
  const response = await page.goto(BASE_URL + path);
  assert.equal(response?.status(), 200, `GET ${path}`);
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  return page;
}

/** Waits until MapLibre fired `load` on `#map` (fails when the build has no vendored MapLibre). */
export async function mapLoaded(page) {
  await page.locator('#map[data-loaded]').waitFor({ state: 'attached' });
  const loaded = await page.locator('#map').getAttribute('data-loaded');
  assert.equal(loaded, 'true', 'MapLibre is not loaded (the build has no vendored maplibre-gl: run make)');
}

/** Moves the map to `[lon, lat]` at `zoom` and waits until it is idle (tiles drawn), 15 s at most. */
export async function jumpTo(page, lon, lat, zoom) {
  const idle = await page.evaluate(
    ([lon, lat, zoom]) =>
      new Promise((resolve) => {
        const map = window.vedetta.map;
        map.once('idle', () => resolve(true));
        setTimeout(() => resolve(false), 15_000);
        map.jumpTo({ center: [lon, lat], zoom });
        map.triggerRepaint();
      }),
    [lon, lat, zoom],
  );
  assert.ok(idle, `the map never became idle at ${lat}, ${lon} (zoom ${zoom})`);
}

/** Clicks (or taps) the map at `[lon, lat]`, which must be in view. */
export async function clickMap(page, lon, lat, { tap = false } = {}) {
  const point = await page.evaluate(([lon, lat]) => {
    const p = window.vedetta.map.project([lon, lat]);
    return { x: p.x, y: p.y };
  }, [lon, lat]);
  const box = await page.locator('#map').boundingBox();
  assert.ok(box, '#map has a box');
  assert.ok(point.x >= 0 && point.y >= 0 && point.x <= box.width && point.y <= box.height, 'the point is in view');
  if (tap) {
    await page.touchscreen.tap(box.x + point.x, box.y + point.y);
  } else {
    await page.mouse.click(box.x + point.x, box.y + point.y);
  }
}

/** Saves a screenshot of what the screen shows as `ARTIFACTS_DIR/NAME.png`. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page on WCAG 2.0/2.1 A and AA rules; returns the violations (id, impact, help, the first
 * targets), so that an assertion prints what is wrong and where.
 */
export async function axe(page) {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy (no inline scripts) stays on.
  await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const results = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
  return results;
}

/**
 * Violations known and reported to the web app, tolerated until fixed (rule id and element): printed, not failed.
 * Keep this empty; an entry is a debt with an owner.
 */
const TOLERATED = [];

/** Asserts axe-core finds no WCAG 2.1 A/AA violation on the page (except the TOLERATED ones, printed). */
export async function assertAccessible(page, what) {
  const found = await axe(page);
  const violations = [];
  for (const v of found) {
    const nodes = v.nodes.filter((n) => !TOLERATED.some((t) => t.id === v.id && t.target === n.target));
    if (nodes.length < v.nodes.length) {
      console.log(`${what}: tolerated for now: ${v.id} on ${TOLERATED.filter((t) => t.id === v.id).map((t) => t.target)}`);
    }
    if (nodes.length > 0) violations.push({ ...v, nodes });
  }
  if (violations.length > 0) {
    assert.fail(`${what}: ${violations.length} kinds of WCAG 2.1 A/AA violations:\n${JSON.stringify(violations, null, 2)}`);
  }
}

/** Signs in on `/protezione-civile` through the login form and waits for the live dashboard. */
export async function signIn(page) {
  await open(page, '/protezione-civile');
  await page.locator('#login-username').fill(FIXTURE.user);
  await page.locator('#login-password').fill(FIXTURE.password);
  await page.locator('#login-submit').click();
  await page.locator('#dashboard').waitFor({ state: 'visible' });
  await page.locator('#live-status[data-state="live"]').waitFor({ state: 'attached' });
}

/** A call to Vedetta's API from the test (not the browser): status and JSON body. */
export async function api(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE_URL + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, body: json };
}

/** Publishes one MQTT message with QoS 1 on Vedetta's broker through `mosquitto_pub` (an independent client). */
export function publish(topic, payload) {
  execFileSync('mosquitto_pub', [
    '-h', '127.0.0.1', '-p', String(FIXTURE.mqtt_port), '-q', '1', '-t', topic, '-m', payload,
  ]);
}

/** Polls `probe` (async, returns a value or undefined) every 25 ms until it returns a value or `ms` pass. */
export async function until(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A real PNG image (a `width`×`height` colour gradient), as a citizen's phone would send one. */
export function pngImage(width = 96, height = 64) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      row[1 + x * 3] = Math.round((255 * x) / width);
      row[2 + x * 3] = Math.round((255 * y) / height);
      row[3 + x * 3] = 128;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
