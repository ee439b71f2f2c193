// StoreErrorsTest.kt — failures reach Kotlin as the right TimebankException subclass, with a message
// a person can act on, and change nothing; the change Flow follows a local store.
package org.timebank.android

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.timebank.mobile.Role
import org.timebank.mobile.TimebankException
import org.timebank.mobile.TimebankStore
import org.timebank.mobile.Topic
import org.timebank.mobile.VisitState
import java.nio.file.Files
import java.time.Instant
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class StoreErrorsTest {
    private val dir = Files.createTempDirectory("timebank-phone").toFile()

    @AfterTest
    fun removeStore() {
        dir.deleteRecursively()
    }

    /** A volunteer's store that no relay knows (the app's training mode). */
    private fun trainingStore(): TimebankStore =
        TimebankStore.create(dir.resolve("store").path, "m-0000000000a1", "s-0000000000b1", Role.VOLUNTEER)

    @Test
    fun `opening a directory with no store says to create one or enroll`() {
        val error = assertFailsWith<TimebankException.NoStore> { TimebankStore.open(dir.resolve("empty").path) }
        assertTrue("enroll" in error.message.orEmpty() || "create" in error.message.orEmpty(), error.message)
    }

    @Test
    fun `bad input is refused with a reason and changes nothing`() {
        trainingStore().use { store ->
            val before = store.status()
            val unknownService = assertFailsWith<TimebankException.InvalidInput> {
                store.checkIn("m-0000000000e1", "skydiving", null, null)
            }
            assertTrue("skydiving" in unknownService.message.orEmpty(), unknownService.message)
            val future = assertFailsWith<TimebankException.InvalidInput> {
                store.checkIn("m-0000000000e1", "companionship", null, Instant.now().plusSeconds(7_200))
            }
            assertTrue(future.message.orEmpty().isNotBlank())
            assertEquals(emptyList(), store.visits(), "nothing was saved")
            assertEquals(before, store.status(), "the store is as it was")
        }
    }

    @Test
    fun `a visit this phone does not hold is not found, by its id`() {
        trainingStore().use { store ->
            val error = assertFailsWith<TimebankException.NotFound> { store.checkOut("v-00000000000000000000dead", null, null) }
            assertTrue("v-00000000000000000000dead" in error.message.orEmpty(), error.message)
        }
    }

    @Test
    fun `a store no relay knows says how to enroll when asked to sync, and a closed one says it is closed`() = runBlocking {
        val phone = TimebankPhone(trainingStore())
        phone.use {
            val error = assertFailsWith<TimebankException.NotAllowed> { it.sync() }
            assertTrue("enroll" in error.message.orEmpty(), error.message)
        }
        val closed = assertFailsWith<IllegalStateException> { phone.sync() }
        assertEquals("this phone's store is closed; open it again to sync", closed.message)
    }

    @Test
    fun `the change flow starts with every topic, follows check-in and check-out, and each collector stops alone`() = runBlocking {
        TimebankPhone(trainingStore()).use { phone ->
            val first = Channel<Topic>(Channel.UNLIMITED)
            val second = Channel<Topic>(Channel.UNLIMITED)
            val firstWatcher = launch(Dispatchers.Default) { phone.changes().collect { first.send(it) } }
            val secondWatcher = launch(Dispatchers.Default) { phone.changes().collect { second.send(it) } }
            withTimeout(10_000) {
                assertEquals(Topic.entries.toSet(), List(Topic.entries.size) { first.receive() }.toSet())
                assertEquals(Topic.entries.toSet(), List(Topic.entries.size) { second.receive() }.toSet())
                val id = phone.call { it.checkIn("m-0000000000e1", "companionship", null, Instant.now().minusSeconds(600)) }
                assertEquals(Topic.VISITS, first.receive())
                assertEquals(Topic.VISITS, second.receive())
                assertEquals(VisitState.CheckedIn, phone.call { it.visit(id) }.state)

                firstWatcher.cancel() // one screen goes away; the other keeps listening
                firstWatcher.join()
                phone.call { it.checkOut(id, null, null) }
                assertEquals(Topic.VISITS, second.receive())
            }
            secondWatcher.cancel()
        }
    }
}
