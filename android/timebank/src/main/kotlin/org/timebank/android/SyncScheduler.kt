// SyncScheduler.kt — when the phone syncs: as soon as it is online, again after a failure with
// backoff, at once when connectivity returns, and on request. Pure Kotlin: the clock and the
// connectivity signal are injected (Android feeds ConnectivityManager; tests feed fakes).
package org.timebank.android

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.dropWhile
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.selects.select
import kotlin.random.Random

/** Time as the scheduler sees it. The app uses [SystemSyncClock]; tests use a fake. */
interface SyncClock {
    /** Wall-clock milliseconds, for [SyncStatus] only. */
    fun nowMillis(): Long

    /** Suspends for [millis]; cancellable. */
    suspend fun sleep(millis: Long)
}

/** The real clock: [System.currentTimeMillis] and coroutine [delay]. */
object SystemSyncClock : SyncClock {
    override fun nowMillis(): Long = System.currentTimeMillis()

    override suspend fun sleep(millis: Long) = delay(millis)
}

/** What the scheduler is doing, for a status line on screen. */
sealed interface SyncStatus {
    /** No network: visits stay saved on the phone until it comes back. */
    data object Offline : SyncStatus

    /** A sync is running. */
    data object Syncing : SyncStatus

    /** The last sync succeeded at [atMillis]; the next runs at [nextAtMillis] or on request. */
    data class Synced(val atMillis: Long, val nextAtMillis: Long) : SyncStatus

    /** [failures] syncs in a row failed, the last with [reason]; the next try is at [retryAtMillis]. */
    data class Retrying(val failures: Int, val reason: String, val retryAtMillis: Long) : SyncStatus
}

/**
 * Runs [sync] whenever it should: at once when [online] is (or becomes) true, every
 * [periodMillis] while online, after a failure when [backoff] says, immediately when
 * connectivity returns after being lost (the backoff starts over, since the network was the
 * likely cause), and when [requestSync] is called. Never two syncs at once. [run] returns only
 * by cancellation; cancelling it cancels a running sync.
 */
class SyncScheduler(
    private val sync: suspend () -> Unit,
    private val online: StateFlow<Boolean>,
    private val clock: SyncClock = SystemSyncClock,
    private val backoff: SyncBackoff = SyncBackoff(),
    private val random: Random = Random.Default,
    private val periodMillis: Long = 15 * 60_000,
) {
    private val requests = Channel<Unit>(Channel.CONFLATED)
    private val mutableStatus = MutableStateFlow<SyncStatus>(SyncStatus.Offline)

    /** What the scheduler is doing now. */
    val status: StateFlow<SyncStatus> = mutableStatus.asStateFlow()

    /** Asks for a sync as soon as the phone is online (the "sync now" button). */
    fun requestSync() {
        requests.trySend(Unit)
    }

    /** The scheduling loop; call it in a scope that lives as long as the app's sync should. */
    suspend fun run(): Nothing {
        var failures = 0
        while (true) {
            if (!online.value) {
                mutableStatus.value = SyncStatus.Offline
                online.first { it }
                failures = 0
            }
            requests.tryReceive() // this attempt answers any request made before it
            mutableStatus.value = SyncStatus.Syncing
            val wait = try {
                sync()
                failures = 0
                periodMillis.also {
                    mutableStatus.value = SyncStatus.Synced(clock.nowMillis(), clock.nowMillis() + it)
                }
            } catch (cancelled: CancellationException) {
                throw cancelled
            } catch (failure: Exception) {
                failures += 1
                backoff.delayMillis(failures, random).also {
                    val reason = failure.message ?: failure.javaClass.simpleName
                    mutableStatus.value = SyncStatus.Retrying(failures, reason, clock.nowMillis() + it)
                }
            }
            if (waitForNextAttempt(wait) == Wake.Reconnected) failures = 0
        }
    }

    private enum class Wake { Timer, Requested, Reconnected }

    /** Sleeps [millis], or less if a sync is requested or connectivity drops and returns. */
    private suspend fun waitForNextAttempt(millis: Long): Wake = coroutineScope {
        val timer = async { clock.sleep(millis); Wake.Timer }
        val requested = async { requests.receive(); Wake.Requested }
        val reconnected = async {
            online.dropWhile { it }.first { it }
            Wake.Reconnected
        }
        val wake = select {
            timer.onAwait { it }
            requested.onAwait { it }
            reconnected.onAwait { it }
        }
        timer.cancel()
        requested.cancel()
        reconnected.cancel()
        wake
    }
}
