// SyncBackoff.kt — how long the phone waits before trying a failed sync again: exponential, capped, jittered.
package org.timebank.android

import kotlin.random.Random

/**
 * Waits between failed sync attempts: [initialMillis] after the first failure, multiplied by
 * [factor] after each further one, never more than [maxMillis]; each wait is then spread by
 * ±[jitter] (a fraction) so that a station's phones coming out of the same lift do not all
 * knock on the relay at the same instant.
 */
data class SyncBackoff(
    val initialMillis: Long = 5_000,
    val maxMillis: Long = 15 * 60_000,
    val factor: Double = 2.0,
    val jitter: Double = 0.2,
) {
    init {
        require(initialMillis > 0) { "initialMillis must be positive, was $initialMillis" }
        require(maxMillis >= initialMillis) { "maxMillis ($maxMillis) must be at least initialMillis ($initialMillis)" }
        require(factor >= 1.0) { "factor must be at least 1, was $factor" }
        require(jitter in 0.0..1.0) { "jitter must be between 0 and 1, was $jitter" }
    }

    /** The wait before the next attempt after [failures] failures in a row (1 for the first). */
    fun delayMillis(failures: Int, random: Random): Long {
        require(failures >= 1) { "delayMillis is for a failed attempt; failures was $failures" }
        var base = initialMillis.toDouble()
        repeat(failures - 1) {
            base = minOf(base * factor, maxMillis.toDouble())
        }
        val spread = 1.0 - jitter + 2.0 * jitter * random.nextDouble()
        return (base * spread).toLong().coerceAtLeast(1)
    }
}
