// The dashboard: no build step. Reads the admin token from the URL fragment (never sent to the
// server in a URL, so it stays out of access logs) or sessionStorage, polls /api/v1/dashboard
// every second and draws each pool's connections by state with uPlot.
(() => {
	const POLL_MS = 1000;
	const charts = new Map();
	const series = { times: [], pools: {} };
	let token = takeToken();
	let since = 0;
	let detailPool;
	let timer;

	function takeToken() {
		const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
		if (match) {
			sessionStorage.setItem("lifeguard-token", decodeURIComponent(match[1]));
			history.replaceState(null, "", location.pathname);
		}
		return sessionStorage.getItem("lifeguard-token");
	}

	async function api(path) {
		const response = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
		if (response.status === 401) throw Object.assign(new Error("refused: the admin token is missing or wrong"), { refused: true });
		if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
		return response.json();
	}

	function showAuth(message) {
		clearTimeout(timer);
		document.getElementById("overview").hidden = true;
		document.getElementById("detail").hidden = true;
		document.getElementById("auth").hidden = false;
		document.getElementById("auth-error").textContent = message;
		setStatus("refused", "bad");
	}

	function setStatus(text, kind) {
		const el = document.getElementById("status");
		el.textContent = text;
		el.className = `status ${kind}`;
	}

	async function poll() {
		try {
			const data = await api(`/api/v1/dashboard?since=${since}`);
			document.getElementById("auth").hidden = true;
			document.getElementById("overview").hidden = false;
			render(data);
			if (detailPool) await renderDetail(detailPool);
			setStatus(data.ready ? "ready" : "not ready", data.ready ? "ok" : "bad");
			document.getElementById("updated").textContent = `updated ${new Date(data.now).toLocaleTimeString()}`;
		} catch (error) {
			if (error.refused) return showAuth(error.message);
			setStatus(error.message, "bad");
		}
		timer = setTimeout(poll, POLL_MS);
	}

	function merge(history) {
		const keep = 300;
		const offset = series.times.length;
		series.times.push(...history.times.map((t) => t / 1000));
		for (const [name, samples] of Object.entries(history.pools)) {
			const mine = (series.pools[name] ??= []);
			while (mine.length < offset) mine.push(samples[0]);
			mine.push(...samples);
		}
		const extra = series.times.length - keep;
		if (extra > 0) {
			series.times.splice(0, extra);
			for (const mine of Object.values(series.pools)) mine.splice(0, Math.max(0, mine.length - series.times.length));
		}
		if (history.times.length > 0) since = history.times[history.times.length - 1];
	}

	function render(data) {
		merge(data.history);
		const container = document.getElementById("pools");
		for (const client of data.clients) {
			for (const pool of client.pools) {
				const name = pool.id;
				let card = container.querySelector(`.pool-card[data-pool="${CSS.escape(name)}"]`);
				if (!card) {
					card = document.createElement("article");
					card.className = "pool-card";
					card.dataset.pool = name;
					card.innerHTML = `<h3></h3><div class="figures"></div><div class="chart" data-pool=""></div><div class="breakers"></div>`;
					card.querySelector(".chart").dataset.pool = name;
					card.addEventListener("click", () => openDetail(name));
					container.append(card);
				}
				card.querySelector("h3").innerHTML = `${html(name)} <span class="kind">${html(client.kind)} · ${html(pool.label)}</span>`;
				card.querySelector(".figures").innerHTML = figures(pool.stats);
				card.querySelector(".breakers").innerHTML = (client.breakers ?? [])
					.map((b) => `<span class="${html(b.state)}" data-breaker="${html(b.label)}">${html(b.label)}: ${html(b.state)}</span>`)
					.join("");
				drawChart(card.querySelector(".chart"), name);
			}
		}
		renderLlm(data.llm ?? []);
		document.getElementById("sessions").textContent = `${data.sessions.open} open, ${data.sessions.expired} expired since start`;
	}

	function figures(s) {
		const cell = (label, field, value) => `<div><b data-field="${field}">${value}</b><small>${label}</small></div>`;
		return [
			cell("active", "active", s.active),
			cell("idle", "idle", s.idle),
			cell("pending", "pending", s.pending),
			cell("max", "max", s.max),
			cell("wait p50 ms", "wait-p50", s.waitMs.p50.toFixed(2)),
			cell("wait p99 ms", "wait-p99", s.waitMs.p99.toFixed(2)),
			cell("utilization", "utilization", `${Math.round(s.utilization * 100)}%`),
			cell("health", "health", s.healthScore),
			cell("acquires", "acquires", s.acquires.ok),
			cell("errors", "errors", s.acquires.failed + s.createFailures),
			cell("created", "created", s.created),
			cell("reuse", "reuse", `${(s.reuseRatio * 100).toFixed(1)}%`),
		].join("");
	}

	function drawChart(el, name) {
		const samples = series.pools[name] ?? [];
		const n = Math.min(samples.length, series.times.length);
		const times = series.times.slice(series.times.length - n);
		const rows = samples.slice(samples.length - n);
		const data = [times, rows.map((r) => r.active), rows.map((r) => r.idle), rows.map((r) => r.creating), rows.map((r) => r.pending)];
		let chart = charts.get(name);
		if (!chart) {
			chart = new uPlot(
				{
					width: 400,
					height: 160,
					title: "connections by state",
					scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
					series: [
						{},
						{ label: "active", stroke: "#d9534f", width: 2 },
						{ label: "idle", stroke: "#2e8540", width: 2 },
						{ label: "creating", stroke: "#f0ad4e", width: 2 },
						{ label: "pending", stroke: "#5b2e91", width: 2 },
					],
				},
				data,
				el,
			);
			charts.set(name, chart);
		} else chart.setData(data);
	}

	function renderLlm(rows) {
		const body = document.querySelector("#llm-usage tbody");
		body.innerHTML = rows
			.map(
				(r) =>
					`<tr data-key="${html(r.clientKey)}" data-model="${html(r.model)}"><td>${html(r.clientKey)}</td><td>${html(r.model)}</td><td>${r.requests}</td><td>${r.errors}</td><td>${r.promptTokens}</td><td>${r.completionTokens}</td></tr>`,
			)
			.join("");
		document.getElementById("llm-none").hidden = rows.length > 0;
	}

	async function openDetail(name) {
		detailPool = name;
		document.getElementById("detail").hidden = false;
		await renderDetail(name);
	}

	async function renderDetail(name) {
		const d = await api(`/api/v1/admin/connection-pools/${encodeURIComponent(name)}`);
		document.getElementById("detail-name").textContent = d.id;
		document.getElementById("detail-stats").innerHTML = `<div class="figures">${figures(d.stats)}</div>`;
		document.querySelector("#detail-connections tbody").innerHTML = (d.connections ?? [])
			.map(
				(c) =>
					`<tr data-connection="${c.connectionId}"><td>${c.connectionId}</td><td>${html(c.state)}</td><td>${(c.ageMs / 1000).toFixed(1)} s</td><td>${c.uses}</td><td>${c.score}</td><td>${c.faults}</td></tr>`,
			)
			.join("");
		document.querySelector("#detail-events tbody").innerHTML = d.events
			.slice()
			.reverse()
			.map(
				(e) =>
					`<tr><td>${html(e.at.slice(11, 23))}</td><td>${html(e.event)}</td><td>${e.connectionId ?? ""}</td><td>${html(e.reason ?? e.message ?? "")}</td><td>${e.durationMs ?? ""}</td></tr>`,
			)
			.join("");
	}

	function html(value) {
		return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
	}

	document.getElementById("detail-close").addEventListener("click", () => {
		detailPool = undefined;
		document.getElementById("detail").hidden = true;
	});
	document.getElementById("token-form").addEventListener("submit", (event) => {
		event.preventDefault();
		token = document.getElementById("token-input").value.trim();
		sessionStorage.setItem("lifeguard-token", token);
		poll();
	});
	if (token) poll();
	else showAuth("Open the link printed at start (it carries the token), or enter the admin token.");
})();
