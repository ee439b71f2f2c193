// TimebankPhone.kt — one phone's store for coroutine code: a cancellable suspending sync on the IO
// dispatcher, a Flow of changes, a Flow that watches the relay, and every other store call off the
// caller's thread.
package org.timebank.android

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.withContext
import org.timebank.mobile.ChangeListener
import org.timebank.mobile.PlatformClock
import org.timebank.mobile.SyncCancel
import org.timebank.mobile.SyncReport
import org.timebank.mobile.TimebankException
import org.timebank.mobile.TimebankStore
import org.timebank.mobile.Topic
import org.timebank.mobile.WatchEvent
import java.util.concurrent.ConcurrentHashMap

/**
 * A phone's [TimebankStore] for coroutine code. The store's calls block (SQLite, and the network
 * for [sync]); here each runs on [io], so the UI thread never waits for the disk or the relay.
 * The generated bindings stay the API: [call] runs any of the store's methods on [io].
 * Closing it closes the store.
 */
class TimebankPhone(
    val store: TimebankStore,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {
    /** Where blocking syncs run; they outlive a cancelled caller until their exchange ends. */
    private val syncs = CoroutineScope(SupervisorJob() + io)

    /** The tokens of the syncs running now, cancelled by [close]. */
    private val running = ConcurrentHashMap.newKeySet<SyncCancel>()

    @Volatile
    private var closed = false

    /** Runs [block] with the store on the IO dispatcher. */
    suspend fun <T> call(block: (TimebankStore) -> T): T = withContext(io) { block(store) }

    /**
     * Syncs with the relay. Cancelling the calling coroutine cancels the sync through the
     * store's [SyncCancel]: this function returns at once with a [CancellationException], and
     * the exchange in flight, if any, has its answer dropped when it ends (the engine resends
     * what the relay did not acknowledge, so nothing is lost or counted twice). The store runs
     * one sync at a time; a new one waits for the cancelled one to let go.
     *
     * Throws the store's typed errors: `TimebankException.Offline` when the relay cannot be
     * reached (everything stays saved on the phone), `RelayRefused`, and so on.
     */
    suspend fun sync(): SyncReport {
        check(!closed) { "this phone's store is closed; open it again to sync" }
        // The token is left to the garbage collector: closing it could race with cancel().
        val cancel = SyncCancel()
        running += cancel
        val result = syncs.async { store.sync(cancel) }
        result.invokeOnCompletion { running -= cancel }
        try {
            return result.await()
        } catch (cancelled: CancellationException) {
            cancel.cancel()
            throw cancelled
        }
    }

    /**
     * What changes in the store, topic by topic (visits, assignments, ledger, ...), from
     * this phone's own writes and from syncs. It starts with every topic once, as soon as
     * the subscription is made, so a screen that loads what it shows on each emission never
     * misses a change between its first load and the subscription. Each collector has its
     * own subscription, stopped when the collector stops. A slow collector may miss topics
     * beyond the flow's buffer (64): refresh everything when in doubt.
     */
    fun changes(): Flow<Topic> = callbackFlow {
        val listener = object : ChangeListener {
            override fun onChange(topic: Topic) {
                trySend(topic)
            }
        }
        val subscription = withContext(io) { store.subscribe(listener) }
        Topic.entries.forEach { trySend(it) }
        awaitClose {
            subscription.stop()
            subscription.close()
        }
    }

    /**
     * Watches the relay while collected: the live channel is held and the store syncs whenever the
     * relay says something this phone reads changed (a dispatch, a review), so [changes] fires
     * within a second without polling (ADR 0032). Collect it while the app is visible (for example
     * `repeatOnLifecycle(Lifecycle.State.STARTED)`); stopping the collector closes the channel at
     * once and cancels a sync in flight; the background scheduler covers the rest. It emits
     * `Connected`, `Synced` (with what the sync did), `SyncFailed` and `Disconnected` (it connects
     * again by itself, after the wait it names); it ends with `TimebankException.RelayRefused` when
     * the device was revoked or another watch of it took over.
     */
    fun watch(): Flow<WatchEvent> = callbackFlow {
        val watch = withContext(io) { store.watch() }
        launch(io) {
            try {
                while (true) send(watch.nextEvent() ?: break)
                channel.close()
            } catch (ended: TimebankException) {
                channel.close(ended)
            }
        }
        awaitClose {
            // nextEvent returns null at once; the native object goes when that call has returned.
            watch.cancel()
            watch.close()
        }
    }

    /** Cancels running syncs (their answers are dropped) and closes the store. */
    override fun close() {
        closed = true
        running.forEach { it.cancel() }
        syncs.cancel()
        store.close()
    }

    companion object {
        /**
         * Enrolls this phone with the relay at [relay] using the station's one-time [code]; creates
         * its store in [dir]. [clock] lends the engine the phone's monotonic clock, which measures
         * live visits (on Android: `SystemClock.elapsedRealtime()` and the boot count).
         */
        suspend fun enroll(
            dir: String,
            relay: String,
            code: String,
            clock: PlatformClock? = null,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): TimebankPhone = withContext(io) { TimebankPhone(TimebankStore.enrollWithClock(dir, relay, code, clock), io) }

        /** Opens the store in [dir], with the same [clock] as at enrollment. */
        suspend fun open(dir: String, clock: PlatformClock? = null, io: CoroutineDispatcher = Dispatchers.IO): TimebankPhone =
            withContext(io) { TimebankPhone(TimebankStore.openWithClock(dir, clock), io) }
    }
}
