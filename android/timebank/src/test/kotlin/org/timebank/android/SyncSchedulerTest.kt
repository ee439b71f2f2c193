// SyncSchedulerTest.kt — the sync scheduler on virtual time: offline, backoff with jitter, reconnects, requests, cancellation.
package org.timebank.android

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield
import kotlin.random.Random
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class SyncSchedulerTest {
    private val backoff = SyncBackoff(initialMillis = 1_000, maxMillis = 8_000, factor = 2.0, jitter = 0.2)
    private val clock = FakeSyncClock()
    private val online = MutableStateFlow(true)
    private val attempts = mutableListOf<Long>()
    private var failing = true

    private fun CoroutineScope.startScheduler(): Pair<SyncScheduler, Job> {
        val scheduler = SyncScheduler(
            sync = {
                attempts += clock.nowMillis()
                if (failing) throw IllegalStateException("relay unreachable")
            },
            online = online,
            clock = clock,
            backoff = backoff,
            random = Random(7),
            periodMillis = 60_000,
        )
        return scheduler to launch { scheduler.run() }
    }

    /** Lets every ready coroutine on this single-threaded runBlocking loop run until it suspends. */
    private suspend fun settle() = repeat(50) { yield() }

    @Test
    fun `an offline phone waits, then syncs the moment the network returns`() = runBlocking {
        online.value = false
        val (scheduler, job) = startScheduler()
        settle()
        clock.advanceBy(3_600_000)
        settle()
        assertEquals(emptyList(), attempts, "no sync while offline")
        assertEquals(SyncStatus.Offline, scheduler.status.value)
        online.value = true
        settle()
        assertEquals(listOf(3_600_000L), attempts)
        job.cancel()
    }

    @Test
    fun `failed syncs wait longer each time, with jitter, up to the cap`() = runBlocking {
        val (scheduler, job) = startScheduler()
        settle()
        repeat(6) {
            clock.advanceToNextWake()
            settle()
        }
        val waits = attempts.zipWithNext { a, b -> b - a }
        val bases = listOf(1_000L, 2_000, 4_000, 8_000, 8_000, 8_000)
        assertEquals(bases.size, waits.size, "attempts at $attempts")
        waits.zip(bases).forEach { (wait, base) ->
            assertTrue(wait in (base * 8 / 10)..(base * 12 / 10), "wait $wait for base $base (attempts $attempts)")
        }
        assertTrue(waits.zip(bases).any { (wait, base) -> wait != base }, "jitter spreads the waits: $waits")
        val status = scheduler.status.value
        assertTrue(status is SyncStatus.Retrying && status.failures == 7 && status.reason == "relay unreachable", "$status")
        job.cancel()
    }

    @Test
    fun `connectivity coming back cuts a long backoff short and starts it over`() = runBlocking {
        val (_, job) = startScheduler()
        settle()
        repeat(3) {
            clock.advanceToNextWake()
            settle()
        }
        assertEquals(4, attempts.size)
        val longWait = checkNotNull(clock.nextWakeMillis()) - clock.nowMillis()
        assertTrue(longWait >= 6_400, "after four failures the wait is long: $longWait")
        clock.advanceBy(1_000)
        online.value = false // into the lift
        settle()
        online.value = true // out of it
        settle()
        assertEquals(5, attempts.size, "synced at once on reconnect")
        assertEquals(attempts[3] + 1_000, attempts[4])
        val nextWait = checkNotNull(clock.nextWakeMillis()) - clock.nowMillis()
        assertTrue(nextWait in 800..1_200, "the backoff started over: $nextWait")
        job.cancel()
    }

    @Test
    fun `after a success the next sync comes a period later, or at once on request`() = runBlocking {
        failing = false
        val (scheduler, job) = startScheduler()
        settle()
        assertEquals(listOf(0L), attempts)
        assertEquals(SyncStatus.Synced(0, 60_000), scheduler.status.value)
        clock.advanceBy(59_999)
        settle()
        assertEquals(1, attempts.size, "not before the period")
        clock.advanceBy(1)
        settle()
        assertEquals(listOf(0L, 60_000L), attempts)
        clock.advanceBy(10)
        scheduler.requestSync()
        settle()
        assertEquals(listOf(0L, 60_000L, 60_010L), attempts)
        job.cancel()
    }

    @Test
    fun `cancelling the scheduler cancels the sync it is running`() = runBlocking {
        var syncCancelled = false
        val scheduler = SyncScheduler(
            sync = {
                try {
                    awaitCancellation()
                } finally {
                    syncCancelled = true
                }
            },
            online = online,
            clock = clock,
        )
        val job = launch { scheduler.run() }
        settle()
        assertEquals(SyncStatus.Syncing, scheduler.status.value)
        job.cancel()
        job.join()
        assertTrue(syncCancelled)
    }

    @Test
    fun `a backoff that makes no sense is refused with a reason`() {
        val error = assertFailsWith<IllegalArgumentException> { SyncBackoff(initialMillis = 10_000, maxMillis = 1_000) }
        assertEquals("maxMillis (1000) must be at least initialMillis (10000)", error.message)
        assertFailsWith<IllegalArgumentException> { SyncBackoff(jitter = 1.5) }
        assertFailsWith<IllegalArgumentException> { backoff.delayMillis(0, Random(1)) }
    }
}
