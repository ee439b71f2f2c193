// FakeSyncClock.kt — virtual time for the scheduler tests: sleeps wait until the test advances the clock.
package org.timebank.android

import kotlinx.coroutines.CompletableDeferred

/** A [SyncClock] whose time moves only when a test calls [advanceBy]; single-threaded use. */
class FakeSyncClock : SyncClock {
    private var now = 0L
    private val sleepers = mutableListOf<Pair<Long, CompletableDeferred<Unit>>>()

    override fun nowMillis(): Long = now

    override suspend fun sleep(millis: Long) {
        val wake = CompletableDeferred<Unit>()
        sleepers += (now + millis) to wake
        try {
            wake.await()
        } finally {
            sleepers.removeAll { it.second === wake }
        }
    }

    /** When the earliest sleeper wakes, or null if nobody sleeps. */
    fun nextWakeMillis(): Long? = sleepers.filter { !it.second.isCompleted }.minOfOrNull { it.first }

    /** Moves time forward and wakes every sleeper whose time has come. */
    fun advanceBy(millis: Long) {
        now += millis
        sleepers.filter { it.first <= now }.forEach { it.second.complete(Unit) }
    }

    /** Moves time to the next sleeper's wake-up (fails if nobody sleeps). */
    fun advanceToNextWake() {
        val next = checkNotNull(nextWakeMillis()) { "nobody is sleeping on the fake clock" }
        advanceBy(next - now)
    }
}
