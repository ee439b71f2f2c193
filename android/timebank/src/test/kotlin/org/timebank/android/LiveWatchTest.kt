// LiveWatchTest.kt — TimebankPhone.watch() against a real relay: a dispatch in the console reaches the
// watching volunteer within a second without a sync being asked for, the watch survives the relay being
// killed and started again, and cancelling the collector ends it at once.
package org.timebank.android

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.timebank.mobile.WatchEvent
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

class LiveWatchTest {
    private val station = StationFixture()

    @AfterTest
    fun closeStation() = station.close()

    @Test
    fun `a dispatch in the console reaches the watching volunteer, across a relay restart, until the collector stops`() = runBlocking {
        withTimeout(90_000) {
            val volunteer = station.phone(station.volunteer, station.line())
            val events = Channel<WatchEvent>(Channel.UNLIMITED)
            val collector = launch(Dispatchers.Default) { volunteer.watch().collect { events.send(it) } }
            suspend fun until(wanted: (WatchEvent) -> Boolean): WatchEvent {
                while (true) events.receive().let { if (wanted(it)) return it }
            }
            assertEquals(WatchEvent.Connected, events.receive())
            until { it is WatchEvent.Synced }

            // The relay dies and comes back on the same data: the watch finds it again.
            station.killRelay()
            until { it is WatchEvent.Disconnected }
            station.restartRelay()
            withTimeout(20_000) { until { it == WatchEvent.Connected } }
            until { it is WatchEvent.Synced }

            val console = ConsoleClient.signIn(station.data, station.relay.url, station.station, station.coordinator)
            val order = console.placeOrder(station.elder, "meals", "lunch on Tuesday")
            val dispatched = System.nanoTime()
            console.dispatch(order, station.volunteer)
            val synced = withTimeout(5_000) { until { it is WatchEvent.Synced && it.report.docsChanged > 0u } } as WatchEvent.Synced
            val tookMs = (System.nanoTime() - dispatched) / 1_000_000
            assertTrue(tookMs < 1_000, "the dispatch reached the phone after $tookMs ms")
            assertEquals(listOf("member/${station.volunteer}"), synced.hinted, "the relay's hint set the sync off")
            assertEquals(order, volunteer.call { it.assignments() }.single().order)

            val stopping = System.nanoTime()
            withTimeout(3_000) { collector.cancelAndJoin() }
            assertTrue((System.nanoTime() - stopping) / 1_000_000 < 3_000, "the watch stopped with its collector")
        }
    }
}
