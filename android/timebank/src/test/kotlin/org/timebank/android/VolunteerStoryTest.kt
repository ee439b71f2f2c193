// VolunteerStoryTest.kt — the whole story through the generated Kotlin API and the wrapper, against
// a real relay: enroll, visit offline, sync, the coordinator approves; an order dispatched to the
// volunteer names its elder (ADR 0021); and syncs that are
// cancelled, lose their answer or meet a killed relay, then resume without loss or duplicates.
package org.timebank.android

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.timebank.mobile.OrderState
import org.timebank.mobile.PastVisit
import org.timebank.mobile.ReviewDecision
import org.timebank.mobile.TimebankException
import org.timebank.mobile.Topic
import org.timebank.mobile.VisitState
import java.time.Duration
import java.time.Instant
import kotlin.random.Random
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class VolunteerStoryTest {
    private val station = StationFixture()

    @AfterTest
    fun closeStation() = station.close()

    /** The ids of the visits waiting in the coordinator's review queue, after a sync. */
    private suspend fun TimebankPhone.reviewQueueIds(): List<String> {
        sync()
        return call { it.reviewQueue() }.map { it.visit.id }
    }

    private suspend fun TimebankPhone.states(): List<VisitState> = call { it.visits() }.map { it.state }

    @Test
    fun `a visit logged offline reaches the station, and the approval and the coins come back`() = runBlocking {
        withTimeout(120_000) {
            val volunteer = station.phone(station.volunteer, station.line())
            val coordinator = station.phone(station.coordinator, station.line())
            assertEquals(station.volunteer, volunteer.call { it.identity() }.member)

            station.killRelay() // in the lift: no network
            val started = Instant.now().minus(Duration.ofHours(1)) // a late tap, within the station's hour
            val id = volunteer.call { it.checkIn(station.elder, "companionship", null, started) }
            val visit = volunteer.call { it.checkOut(id, null, "read the paper together") }
            assertEquals(VisitState.SavedOnPhone, visit.state)
            assertEquals("saved on phone", visit.stateLabel)
            assertEquals(60u, visit.minutes)
            val offline = assertFailsWith<TimebankException.Offline> { volunteer.sync() }
            assertTrue(offline.message.orEmpty().isNotBlank(), "the Offline error says what happened")
            assertEquals(listOf<VisitState>(VisitState.SavedOnPhone), volunteer.states(), "still saved on the phone")

            station.restartRelay() // out of the lift
            val report = volunteer.sync()
            assertTrue(report.changesSent > 0u, "$report")
            assertEquals(listOf<VisitState>(VisitState.Sent), volunteer.states())

            val queue = coordinator.also { it.sync() }.call { it.reviewQueue() }
            assertEquals(listOf(id), queue.map { it.visit.id }, "the station sees the visit")
            assertEquals(station.volunteer, queue.single().visit.volunteer)
            assertEquals(60u, queue.single().visit.minutes)
            coordinator.call { it.reviewVisit(id, ReviewDecision.APPROVE, "") }
            coordinator.sync()

            val topics = Channel<Topic>(Channel.UNLIMITED)
            val watcher = launch(Dispatchers.Default) { volunteer.changes().collect { topics.send(it) } }
            assertEquals(Topic.entries.toSet(), List(Topic.entries.size) { topics.receive() }.toSet(), "first every topic once")
            volunteer.sync() // brings the approval and the ledger's posting
            val changed = mutableSetOf<Topic>()
            withTimeout(10_000) { while (Topic.VISITS !in changed) changed += topics.receive() }
            watcher.cancel()
            assertEquals(listOf<VisitState>(VisitState.Approved), volunteer.states())
            assertEquals("approved", volunteer.call { it.visit(id) }.stateLabel)
            assertEquals(60L, volunteer.call { it.balance() }.confirmedMinutes, "an hour earns a coin")
            assertTrue(id in station.data.admin("ledger", "--member", station.volunteer), "the relay's ledger holds the visit")
        }
    }

    @Test
    fun `an order the coordinator dispatches reaches the volunteer with the elder's name`() = runBlocking {
        withTimeout(60_000) {
            val volunteer = station.phone(station.volunteer, station.line())
            val coordinator = station.phone(station.coordinator, station.line())
            coordinator.sync() // the elder's profile, where the dispatch takes the name from
            val order = coordinator.call { it.placeOrder(station.elder, "meals", "lunch on Tuesday") }
            coordinator.call { it.dispatch(order, station.volunteer) }
            coordinator.sync()

            volunteer.sync()
            val assignment = volunteer.call { it.assignments() }.single()
            assertEquals(listOf(order, station.elder), listOf(assignment.order, assignment.elder))
            assertEquals(OrderState.DISPATCHED, assignment.state)
            assertEquals("Wang Fang", assignment.elderName, "the name registered with `admin member create --name`")
        }
    }

    @Test
    fun `a code used once is refused by the relay with a reason, and leaves no store behind`() = runBlocking {
        withTimeout(60_000) {
            val line = station.line()
            val code = station.data.enrollCode(station.volunteer)
            station.keep(TimebankPhone.enroll(station.phoneDir().path, line.url, code))
            val second = station.phoneDir()
            val refused = assertFailsWith<TimebankException.RelayRefused> { TimebankPhone.enroll(second.path, line.url, code) }
            assertTrue("code" in refused.message.orEmpty(), "the reason names the code: ${refused.message}")
            val noStore = assertFailsWith<TimebankException.NoStore> { TimebankPhone.open(second.path) }
            assertTrue(noStore.message.orEmpty().isNotBlank())
        }
    }

    @Test
    fun `a cancelled sync returns at once, drops the late answer, and the next sync counts the visit once`() = runBlocking {
        withTimeout(120_000) {
            val line = station.line()
            val volunteer = station.phone(station.volunteer, line)
            val coordinator = station.phone(station.coordinator, station.line())
            val id = volunteer.call { it.checkIn(station.elder, "meals", null, Instant.now().minusSeconds(3_600)) }
            volunteer.call { it.checkOut(id, null, null) }

            line.hold() // the network neither answers nor refuses
            val sync = launch(Dispatchers.Default) { volunteer.sync() }
            delay(500)
            val cancelledAt = System.nanoTime()
            sync.cancel()
            sync.join()
            val tookMillis = (System.nanoTime() - cancelledAt) / 1_000_000
            assertTrue(sync.isCancelled)
            assertTrue(tookMillis < 2_000, "cancelling took $tookMillis ms; the relay's timeout is 60 s")

            // The network comes back: the held request reaches the relay, and its answer, if it
            // reaches the cancelled sync at all, is dropped. So the next sync sends the visit
            // again, and the relay, which has it already, keeps one.
            line.release()
            val next = volunteer.sync()
            assertTrue(next.changesSent > 0u, "the late answer was dropped, so the visit went again: $next")
            assertEquals(listOf<VisitState>(VisitState.Sent), volunteer.states())
            assertEquals(listOf(id), coordinator.reviewQueueIds(), "the relay counts it once, not twice")
        }
    }

    @Test
    fun `while a sync waits on a silent network the volunteer still checks in and out`() = runBlocking {
        withTimeout(120_000) {
            val line = station.line()
            val volunteer = station.phone(station.volunteer, line)
            // Taps made late, within the station's hour (beyond it the visit goes to review).
            val first = volunteer.call { it.checkIn(station.elder, "meals", null, Instant.now().minusSeconds(3_600)) }
            volunteer.call { it.checkOut(first, Instant.now().minusSeconds(1_800), null) }

            line.hold()
            val sync = async(Dispatchers.Default) { volunteer.sync() }
            delay(500)
            val startedAt = System.nanoTime()
            val second = volunteer.call { it.checkIn(station.elder, "companionship", null, Instant.now().minusSeconds(1_200)) }
            volunteer.call { it.checkOut(second, null, null) }
            val tookMillis = (System.nanoTime() - startedAt) / 1_000_000
            assertTrue(tookMillis < 2_000, "checking in and out took $tookMillis ms during the sync")
            assertTrue(sync.isActive, "the sync is still waiting on the network")

            line.release() // the held sync completes: it carried the first visit only
            sync.await()
            assertEquals(listOf(VisitState.Sent, VisitState.SavedOnPhone), volunteer.states())
            volunteer.sync()
            assertEquals(listOf<VisitState>(VisitState.Sent, VisitState.Sent), volunteer.states())
        }
    }

    @Test
    fun `a live visit is measured by the phone's boot clock, even when the app is killed in between`() = runBlocking {
        withTimeout(120_000) {
            val boot = FakeBootClock()
            val dir = station.phoneDir()
            val volunteer = station.phone(station.volunteer, station.line(), boot, dir)
            val coordinator = station.phone(station.coordinator, station.line())
            val id = volunteer.call { it.checkIn(station.elder, "companionship", null, null) } // live, now
            volunteer.close() // the app is killed during the visit

            boot.advanceMinutes(45) // the wall clock is not trusted to move; the boot clock is
            val reopened = station.keep(TimebankPhone.open(dir.path, boot))
            assertEquals(listOf<VisitState>(VisitState.CheckedIn), reopened.states())
            val visit = reopened.call { it.checkOut(id, null, null) }
            assertEquals(45u, visit.minutes)
            reopened.sync()
            assertEquals(45u, coordinator.also { it.sync() }.call { it.reviewQueue() }.single().visit.minutes)
        }
    }

    @Test
    fun `syncs that lose their answer or meet a killed relay resume without losing or doubling a visit`() = runBlocking {
        withTimeout(120_000) {
            val line = station.line()
            val volunteer = station.phone(station.volunteer, line)
            val coordinator = station.phone(station.coordinator, station.line())
            val yesterday = Instant.now().minus(Duration.ofDays(1))
            val ids = (0L..2L).map { hour ->
                val start = yesterday.plus(Duration.ofHours(hour * 2))
                volunteer.call {
                    it.logVisit(PastVisit(station.elder, "cleaning", null, start, start.plus(Duration.ofMinutes(45)), "paper $hour"))
                }
            }

            line.loseAnswers() // the relay takes the visits; the phone never hears so
            assertFailsWith<TimebankException.Offline> { volunteer.sync() }
            assertTrue(line.answersLost > 0)
            assertEquals(List(3) { VisitState.SavedOnPhone }, volunteer.states())
            assertEquals(ids.sorted(), coordinator.reviewQueueIds().sorted(), "the relay already holds all three")

            station.killRelay()
            line.pass()
            assertFailsWith<TimebankException.Offline> { volunteer.sync() }
            station.restartRelay()
            volunteer.sync()
            assertEquals(List(3) { VisitState.Sent }, volunteer.states())
            assertEquals(ids, volunteer.call { it.visits() }.map { it.id }, "the same three visits, no copies")
            assertEquals(ids.sorted(), coordinator.reviewQueueIds().sorted(), "the station still has three, not six")
            assertEquals(0u, volunteer.sync().changesSent, "nothing is left to send")
        }
    }

    @Test
    fun `the scheduler retries while the relay is down and delivers the visit when the network returns`() = runBlocking {
        withTimeout(120_000) {
            val volunteer = station.phone(station.volunteer, station.line())
            val id = volunteer.call { it.checkIn(station.elder, "escort", null, Instant.now().minusSeconds(1_800)) }
            volunteer.call { it.checkOut(id, null, null) }
            station.killRelay()

            val online = MutableStateFlow(true)
            val scheduler = SyncScheduler(sync = { volunteer.sync() }, online = online, clock = FakeSyncClock(), random = Random(3))
            val running = launch { scheduler.run() }
            val retrying = scheduler.status.first { it is SyncStatus.Retrying } as SyncStatus.Retrying
            assertEquals(1, retrying.failures)
            assertTrue("relay" in retrying.reason, "the reason is the engine's words: ${retrying.reason}")
            assertEquals(listOf<VisitState>(VisitState.SavedOnPhone), volunteer.states())

            online.value = false // the phone loses the network; the station's relay comes back meanwhile
            delay(100)
            station.restartRelay()
            online.value = true // no clock advanced: the reconnect alone starts the sync
            scheduler.status.first { it is SyncStatus.Synced }
            assertEquals(listOf<VisitState>(VisitState.Sent), volunteer.states())
            running.cancel()
        }
    }
}
