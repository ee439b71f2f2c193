// PresenceTest.kt — proof of presence through the generated Kotlin API and the wrapper, against
// a real relay: the volunteer checks in and out with the links the elder's tag gives (a software
// tag: `timebank-relay admin tag tap`), the elder's own phone co-signs a visit as text, and the
// relay verifies both; a replayed link, another elder's tag, an altered link and a revoked tag each
// wait for review with the reason.
package org.timebank.android

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.timebank.mobile.TimebankException
import org.timebank.mobile.VisitState
import java.time.Duration
import java.time.Instant
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class PresenceTest {
    private val station = StationFixture()
    private val uid = "04A1B2C3D4E5F6"

    @AfterTest
    fun closeStation() = station.close()

    private val neighboursUid = "04A1B2C3D4E5F7"

    /** The link the tag [tagUid] (the elder's unless said) gives at read counter [counter]. */
    private fun tap(counter: Int, tagUid: String = uid): String =
        jsonString(station.data.admin("tag", "tap", "--station", station.station, "--uid", tagUid, "--counter", "$counter"), "url")

    /** [link] with its last hex digit changed by hand. */
    private fun altered(link: String): String = link.dropLast(1) + if (link.last() in "Ff") "E" else "F"

    /** The station registers the elder's tag and lets the relay approve verified visits. */
    private suspend fun tagged() {
        station.data.admin("tag", "register", "--station", station.station, "--elder", station.elder, "--uid", uid)
        val coordinator = station.phone(station.coordinator, station.line())
        coordinator.call { it.setVerifiedVisits("auto") }
        coordinator.sync()
    }

    /** The visit up, then the relay's outcome down. */
    private suspend fun TimebankPhone.syncTwice() {
        sync()
        sync()
    }

    @Test
    fun `a visit tapped at both ends is approved without a coordinator and a replayed tap waits`() = runBlocking {
        withTimeout(120_000) {
            tagged()
            val volunteer = station.phone(station.volunteer, station.line())
            // Ten minutes within the last hour: a live visit entered as it happens (entered an
            // hour or more after the times it claims, it would wait for a coordinator as back-dated).
            val start = Instant.now().minus(Duration.ofMinutes(50))
            val id = volunteer.call { it.checkInTapped(station.elder, "companionship", null, start, tap(1)) }
            val done = volunteer.call { it.checkOutTapped(id, start.plus(Duration.ofMinutes(10)), null, tap(2)) }
            assertEquals(true to true, done.tappedIn to done.tappedOut)
            volunteer.syncTwice()
            val approved = volunteer.call { it.visit(id) }
            assertEquals(VisitState.Approved, approved.state)
            assertTrue(approved.stateLabel.startsWith("approved"), approved.stateLabel)

            val later = start.plus(Duration.ofMinutes(15))
            val copied = volunteer.call { it.checkInTapped(station.elder, "companionship", null, later, tap(1)) }
            volunteer.call { it.checkOutTapped(copied, later.plus(Duration.ofMinutes(10)), null, tap(3)) }
            volunteer.syncTwice()
            val held = volunteer.call { it.visit(copied) }.stateLabel
            assertTrue("repeats an earlier tap" in held, held)

            val before = volunteer.call { it.visits() }.size
            assertFailsWith<TimebankException.InvalidInput> {
                volunteer.call { it.checkInTapped(station.elder, "companionship", null, null, "https://example.invalid/") }
            }
            assertEquals(before, volunteer.call { it.visits() }.size, "nothing was stored")
        }
    }

    @Test
    fun `another elder's tag, an altered link and a revoked tag wait with the reason`() = runBlocking {
        withTimeout(120_000) {
            tagged()
            val neighbour = station.data.member(station.station, "elder", "Zhao Lan", 1938)
            station.data.admin("tag", "register", "--station", station.station, "--elder", neighbour, "--uid", neighboursUid)
            val volunteer = station.phone(station.volunteer, station.line())
            val start = Instant.now().minus(Duration.ofMinutes(50))
            suspend fun tappedVisit(minutesIn: Long, linkIn: String, linkOut: String): String {
                val began = start.plus(Duration.ofMinutes(minutesIn))
                val id = volunteer.call { it.checkInTapped(station.elder, "companionship", null, began, linkIn) }
                volunteer.call { it.checkOutTapped(id, began.plus(Duration.ofMinutes(5)), null, linkOut) }
                return id
            }

            // The neighbour's card, genuine, tapped for Wang Fang's visit.
            val foreign = tappedVisit(0, tap(1, neighboursUid), tap(2, neighboursUid))
            // Wang Fang's card, its first link changed by hand.
            val tampered = tappedVisit(10, altered(tap(1)), tap(2))
            // Wang Fang's card, reported lost and revoked before the visit reached the relay.
            val lost = tappedVisit(20, tap(3), tap(4))
            station.data.admin("tag", "revoke", "--station", station.station, "--uid", uid, "--why", "lost")
            volunteer.syncTwice()

            val reasons = mapOf(
                foreign to "the tag tapped is another elder's",
                tampered to "the tag's link was altered",
                lost to "the tag tapped was revoked",
            )
            for ((id, reason) in reasons) {
                val label = volunteer.call { it.visit(id) }.stateLabel
                assertTrue(label.startsWith("under review") && reason in label, label)
            }
        }
    }

    @Test
    fun `the elder's phone co-signs a visit offline and the relay verifies it`() = runBlocking {
        withTimeout(120_000) {
            tagged()
            val volunteer = station.phone(station.volunteer, station.line())
            val elder = station.phone(station.elder, station.line())
            val start = Instant.now().minus(Duration.ofMinutes(50))
            val id = volunteer.call { it.checkIn(station.elder, "companionship", null, start) }
            volunteer.call { it.checkOut(id, start.plus(Duration.ofMinutes(10)), null) }
            val summary = volunteer.call { it.visitSummary(id) }
            val signature = elder.call { it.cosignVisit(summary) }
            assertTrue(signature.startsWith("TBS1|"), signature)
            assertEquals(station.elder, volunteer.call { it.attachCosignature(id, signature) }.cosignedBy)
            volunteer.syncTwice()
            assertEquals(VisitState.Approved, volunteer.call { it.visit(id) }.state)
        }
    }
}
