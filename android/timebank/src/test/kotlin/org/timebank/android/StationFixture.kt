// StationFixture.kt — a station on a real relay for the tests: a volunteer, an elder and a
// coordinator registered with the admin commands, and phones enrolled over HTTP through a RelayLine each.
package org.timebank.android

import kotlinx.coroutines.runBlocking
import org.timebank.mobile.PlatformClock
import java.io.File
import java.nio.file.Files

/** A relay with one station; [close] kills the relay and deletes every directory. */
class StationFixture : AutoCloseable {
    val data = RelayData()
    val station = data.station("Caoyang 曹杨")
    val volunteer = data.member(station, "volunteer", "Li Wei", 1958)
    val elder = data.member(station, "elder", "Wang Fang", 1940)
    val coordinator = data.member(station, "coordinator", "Zhou Min", 1975)

    var relay = data.start()
        private set

    private val lines = mutableListOf<RelayLine>()
    private val phones = mutableListOf<TimebankPhone>()
    private val dirs = mutableListOf(data.dir)

    /** A new empty directory for a phone's store. */
    fun phoneDir(): File = Files.createTempDirectory("timebank-phone").toFile().also { dirs += it }

    /** A line to the relay that follows it across restarts. */
    fun line(): RelayLine = RelayLine(relay.port).also { lines += it }

    /** [member]'s phone, enrolled with a fresh code over [line] into [dir]. */
    fun phone(member: String, line: RelayLine, clock: PlatformClock? = null, dir: File = phoneDir()): TimebankPhone = runBlocking {
        TimebankPhone.enroll(dir.path, line.url, data.enrollCode(member), clock).also { phones += it }
    }

    /** Keeps [phone] to be closed with the station. */
    fun keep(phone: TimebankPhone): TimebankPhone = phone.also { phones += it }

    /** Kills the relay with SIGKILL (a crash, or the station's power going). */
    fun killRelay() = relay.kill()

    /** Starts the relay again on the same data, on a new port that every line follows. */
    fun restartRelay() {
        relay.close()
        relay = data.start()
        lines.forEach { it.upstreamPort = relay.port }
    }

    override fun close() {
        phones.forEach { runCatching { it.close() } }
        lines.forEach { it.close() }
        relay.close()
        dirs.forEach { it.deleteRecursively() }
    }
}
