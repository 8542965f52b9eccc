/**
 * A health score (0-100) for clients whose connections live inside a driver (MongoDB's pool,
 * Firestore's gRPC channels), where lifeguard sees outcomes rather than connections: each
 * success moves the score a tenth of the way to 100, each failure a quarter of the way to 0.
 * One failure among many successes barely shows; a run of failures (a server down, health
 * checks timing out) takes it below the manager's unhealthy threshold within three, and
 * recovery takes a dozen successes, so a flapping backend does not look healthy between faults.
 */
const SUCCESS_WEIGHT = 0.1;
const FAILURE_WEIGHT = 0.25;

export class OutcomeScore {
	#score = 100;

	get value(): number {
		return Math.round(this.#score);
	}

	success(): void {
		this.#score += (100 - this.#score) * SUCCESS_WEIGHT;
	}

	failure(): void {
		this.#score -= this.#score * FAILURE_WEIGHT;
	}
}
