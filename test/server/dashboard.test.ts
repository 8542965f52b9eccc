/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, headless, against
 * the service on its embedded default in a child process.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type ServiceProcess, startServiceProcess } from "./service-process.ts";

const POOL = "embedded/primary";

// The browser's globals used by the functions that run inside the page (this project compiles without the DOM library).
interface PageCanvas {
	width: number;
	height: number;
	getContext(kind: "2d"): {
		drawImage(image: unknown, x: number, y: number): void;
		getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
	};
}
declare const document: {
	createElement(tag: "canvas"): PageCanvas;
	getElementById(id: string): { textContent: string | null } | null;
	querySelector(selector: string): { textContent: string | null } | null;
};
declare const Image: new () => { src: string; width: number; height: number; decode(): Promise<void> };

async function launch(): Promise<Browser> {
	return chromium.launch({
		executablePath: "/usr/bin/chromium",
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
	});
}

/** Distinct colours and non-background pixels of a PNG, counted by the browser itself (it decodes PNGs) on a blank page. */
async function inkOf(browser: Browser, png: Buffer): Promise<{ colours: number; inked: number; pixels: number }> {
	const page = await browser.newPage();
	try {
		return await count(page, png);
	} finally {
		await page.close();
	}
}

function count(page: Page, png: Buffer): Promise<{ colours: number; inked: number; pixels: number }> {
	return page.evaluate(async (base64) => {
		const image = new Image();
		image.src = `data:image/png;base64,${base64}`;
		await image.decode();
		const canvas = document.createElement("canvas");
		canvas.width = image.width;
		canvas.height = image.height;
		const context = canvas.getContext("2d");
		context.drawImage(image, 0, 0);
		const { data } = context.getImageData(0, 0, image.width, image.height);
		const colours = new Set<number>();
		let inked = 0;
		for (let i = 0; i < data.length; i += 4) {
			colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
			if (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200) inked++;
		}
		return { colours: colours.size, inked, pixels: data.length / 4 };
	}, png.toString("base64"));
}

describe("the dashboard in Chromium", () => {
	let service: ServiceProcess;
	let browser: Browser;

	before(async () => {
		service = await startServiceProcess();
		browser = await launch();
	});
	after(async () => {
		await browser?.close();
		await service?.stop();
	});

	it("without the token the page shows nothing but the token form, and its data endpoint refuses", async () => {
		const page = await browser.newPage();
		try {
			await page.goto(`${service.url}/`);
			await page.waitForSelector("#auth:not([hidden])");
			assert.equal(await page.isHidden("#overview"), true);
			assert.equal(await page.locator(".pool-card").count(), 0);
			const refused = await page.evaluate(async () => (await fetch("/api/v1/dashboard")).status);
			assert.equal(refused, 401);
			await page.goto(`${service.url}/#token=wrong-token-0123456789`);
			await page.reload();
			await page.waitForFunction(() => document.getElementById("auth-error")?.textContent?.includes("refused"));
			assert.equal(await page.locator(".pool-card").count(), 0);
		} finally {
			await page.close();
		}
	});

	it("with the token it shows every pool and draws its chart of connections by state", async () => {
		const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
		try {
			await page.goto(`${service.url}/#token=${service.token}`);
			await page.waitForSelector(`.pool-card[data-pool="${POOL}"] canvas`);
			await page.waitForSelector('.pool-card[data-pool="demo-upstream"] canvas');
			assert.equal(new URL(page.url()).hash, "", "the token is taken out of the address bar");
			// A few samples, so the lines have length.
			await page.waitForTimeout(3_000);
			const chart = page.locator(`.chart[data-pool="${POOL}"] .u-over`);
			const png = await page.locator(`.chart[data-pool="${POOL}"]`).screenshot();
			const ink = await inkOf(browser, png);
			assert.ok(ink.colours >= 4, `the chart has lines and axes in several colours (${ink.colours})`);
			assert.ok(ink.inked > ink.pixels * 0.01, `the chart is not blank (${ink.inked} of ${ink.pixels} pixels inked)`);
			assert.equal(await chart.count(), 1);
			const health = await page.textContent(`.pool-card[data-pool="${POOL}"] [data-field="health"]`);
			assert.match(health ?? "", /^\d+$/);
			assert.match((await page.textContent(`.pool-card[data-pool="${POOL}"] [data-field="wait-p99"]`)) ?? "", /^\d+\.\d\d$/);
			assert.match((await page.textContent(`.pool-card[data-pool="${POOL}"] [data-field="utilization"]`)) ?? "", /^\d+%$/);
		} finally {
			await page.close();
		}
	});

	it("values update after traffic", async () => {
		const page = await browser.newPage();
		try {
			await page.goto(`${service.url}/#token=${service.token}`);
			const field = `.pool-card[data-pool="${POOL}"] [data-field="acquires"]`;
			await page.waitForSelector(field);
			const before = Number(await page.textContent(field));
			for (let i = 0; i < 5; i++) {
				await Promise.all(Array.from({ length: 20 }, () => service.request("POST", "/api/v1/pools/embedded/query", { sql: "SELECT 1" })));
			}
			await page.waitForFunction(
				([selector, floor]) => Number(document.querySelector(selector as string)?.textContent) >= (floor as number),
				[field, before + 100] as const,
				{
					timeout: 10_000,
				},
			);
		} finally {
			await page.close();
		}
	});

	it("shows LLM usage per client key and model once the demo traffic has gone through the gateway", async () => {
		const page = await browser.newPage();
		try {
			await page.goto(`${service.url}/#token=${service.token}`);
			await page.waitForSelector('#llm-usage tr[data-key="demo"][data-model="demo-chat"]', { timeout: 15_000 });
			const cells = await page.locator('#llm-usage tr[data-key="demo"][data-model="demo-chat"] td').allTextContents();
			assert.ok(Number(cells[2]) >= 1, "requests");
			assert.ok(Number(cells[5]) >= 1, "completion tokens");
			await page.waitForSelector('.breakers [data-breaker="demo/demo-chat"]');
			assert.equal(await page.textContent('.breakers [data-breaker="demo/demo-chat"]'), "demo/demo-chat: closed");
		} finally {
			await page.close();
		}
	});

	it("a pool's detail lists its connections with age, uses and score, and its recent events", async () => {
		const page = await browser.newPage();
		try {
			await page.goto(`${service.url}/#token=${service.token}`);
			await page.click(`.pool-card[data-pool="demo-upstream"]`);
			await page.waitForSelector("#detail-connections tbody tr");
			assert.equal(await page.textContent("#detail-name"), "demo-upstream");
			const row = await page.locator("#detail-connections tbody tr").first().locator("td").allTextContents();
			assert.match(row[2], /^\d+\.\d s$/, "age");
			assert.match(row[3], /^\d+$/, "uses");
			assert.match(row[4], /^\d+$/, "score");
			await page.waitForSelector("#detail-events tbody tr");
			const events = await page.locator("#detail-events tbody").textContent();
			assert.match(events ?? "", /connectionReady/);
		} finally {
			await page.close();
		}
	});
});
